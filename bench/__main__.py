"""Entry point of `python -m bench`.

Imports stay inside the guard: the load generator's worker processes are spawned, and spawning
re-imports this module, which must then cost them nothing.
"""

if __name__ == "__main__":
    import sys

    from bench.runner import main

    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The server and the load processes were already stopped on the way out.
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)
