"""The notebooks run in CI in a small mode: a few training steps each."""
import os

os.environ.setdefault('JAXGAN_NOTEBOOK_STEPS', '8')
