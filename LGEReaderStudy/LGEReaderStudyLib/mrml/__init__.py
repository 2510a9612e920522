"""mrml"""
