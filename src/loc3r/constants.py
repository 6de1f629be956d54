"""Project-wide constants: special tokens, defaults and batch keys (defined once, imported everywhere)."""

POS_TOKEN = "<Pos>"
ORI_TOKEN = "<Ori>"
CAM_TOKEN = "<cam>"
PSEUDO_SITUATION = "I am standing in the room"

NUM_ORI_BINS = 36
DEFAULT_NUM_FRAMES = 32

# Depth images in ScanNet are uint16 millimetres (`.sens` depth_shift = 1000).
SCANNET_DEPTH_SHIFT = 1000.0
