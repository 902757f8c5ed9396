"""Northwind Analytics, the demo company: `generate.py` and the CSV files it wrote."""
