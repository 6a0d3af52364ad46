import sys
from pathlib import Path

# ssl_reference.py: the hand-written reference computations shared by the per-method tests.
sys.path.insert(0, str(Path(__file__).parent))
