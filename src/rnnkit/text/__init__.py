"""rnnkit.text"""
