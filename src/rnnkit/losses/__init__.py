"""rnnkit.losses"""
