pytest_plugins = ["tests.conftest_postgres", "tests.conftest_kafka"]
