"""Producers that stand in for the users of a ServingDeployment: scoring requests (some of them
malformed) and the feedback a manager gives later, `continuum simulate`."""
