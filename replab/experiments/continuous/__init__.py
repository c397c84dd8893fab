"""Pixel continuous control: SAC, CURL and RAD (Laskin et al. 2020).

PointMass-Pixels (numpy, no renderer) and DMControl (extra dmc).
"""
