"""One lane at the gate: the lane that coordinates a pass, its devices (道闸, LED), camera
photos."""
