//! Admins' pages through the router: incidents, users, accounts, workflows, the sandbox clock.
