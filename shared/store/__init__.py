"""The database: tables, migrations, claims, attempts, re-planning, sweep, quotas, tenants and keys."""
