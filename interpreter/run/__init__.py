"""A billing run (`ratecard run`): every customer rated under their own plan (`job`),
and the output folder written as one unit (`output`).
"""
