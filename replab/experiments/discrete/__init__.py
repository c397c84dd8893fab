"""Discrete control: Rainbow and CURL (Laskin et al. 2020).

MinAtar and the Atari100k protocol (ALE with the ROMs ale-py ships).
"""
