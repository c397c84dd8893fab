"""GFlowNets (seed004 §S4–S5): DAG environments, flow matching / detailed / trajectory balance, samplers,
replay, MCMC / PPO / SAC baselines and exact distribution metrics. Molecules live in
`replab.gfn.molecules` (extra `chem`, RDKit), imported only on use."""

from replab.gfn.env import DAGEnv
from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.losses import detailed_balance_loss, flow_matching_loss, trajectory_balance_loss
from replab.gfn.mcmc import MetropolisHastings
from replab.gfn.metrics import EmpiricalDistribution, l1_distance
from replab.gfn.ppo import PPO
from replab.gfn.replay import StateReplay
from replab.gfn.sac import DiscreteSAC
from replab.gfn.sampler import Trajectories, sample_trajectories


def hypergrid(n: int = 4, H: int = 8, R0: float = 0.1, R1: float = 0.5, R2: float = 2.0) -> HyperGrid:
    """The hyper-grid of seed004 §S4.3: `hypergrid(n, H, R0, R1=0.5, R2=2)`."""
    return HyperGrid(n, H, R0, R1, R2)


__all__ = [
    "DAGEnv",
    "DiscreteSAC",
    "EmpiricalDistribution",
    "GFlowNet",
    "HyperGrid",
    "MetropolisHastings",
    "PPO",
    "StateReplay",
    "Trajectories",
    "detailed_balance_loss",
    "flow_matching_loss",
    "hypergrid",
    "l1_distance",
    "policy_table",
    "sample_trajectories",
    "sampling_distribution",
    "trajectory_balance_loss",
]
