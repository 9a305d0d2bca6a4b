"""What the tests share and no test is in: the fake GitHub, factories, services, the OIDC provider,
dashboard helpers, the real recordings' reader, and the workers other interpreters run."""
