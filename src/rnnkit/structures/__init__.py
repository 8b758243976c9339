"""rnnkit.structures"""
