"""Long sequences: the Linear Recurrent Unit (Orvieto et al. 2023).

The ablation ladder from a tanh RNN, and accuracy and time against length.
"""
