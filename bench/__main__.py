"""Entry point of `python -m bench` (the benchmarks) and `python -m bench soak` (the soak run).

Imports stay inside the guard: the load generator's worker processes are spawned, and spawning
re-imports this module, which must then cost them nothing.
"""

if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["soak"]:
        from bench.soak.runner import main as run
        argv = sys.argv[2:]
    else:
        from bench.runner import main as run
        argv = sys.argv[1:]

    try:
        sys.exit(run(argv))
    except KeyboardInterrupt:
        # The server and the load processes were already stopped on the way out.
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)
