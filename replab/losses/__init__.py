"""Pure loss functions (torch only), with a thin nn.Module only where a loss owns state or parameters."""

from replab.losses.cpc import cpc_loss
from replab.losses.crw import crw_loss
from replab.losses.info_nce import info_nce, nt_xent
from replab.losses.semppl import semppl_loss

__all__ = ["cpc_loss", "crw_loss", "info_nce", "nt_xent", "semppl_loss"]
