import argparse
import sys

from bench import cli

parser = argparse.ArgumentParser(prog="evcs bench", description=cli.__doc__)
cli.add_arguments(parser)
sys.exit(cli.main(parser.parse_args()))
