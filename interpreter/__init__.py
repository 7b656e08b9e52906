"""Running compiled plans: expression evaluation, ledgers, pricing, documents."""
