"""The soak run (`python -m bench soak`): the mall under load while its worker, its database and
WeChat fail, then a check that nothing was lost. See bench/soak/runner.py and bench/README.md."""
