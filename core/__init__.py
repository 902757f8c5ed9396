"""OneFunnel's product without Streamlit: database, imports, KPIs and the CLI.

Pages and the CLI call into this package; it is the only place that knows SQL,
KPI formulas and import rules.
"""
