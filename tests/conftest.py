from hypothesis import settings

pytest_plugins = ["tests.conftest_postgres", "tests.conftest_kafka"]

# Property tests check logic, not speed: no per-example deadline on a busy CI machine.
settings.register_profile("analytics", deadline=None, print_blob=True)
settings.load_profile("analytics")
