"""Scanning module artifacts: what an artifact contains, and what is wrong with it.

Each scanner here looks at one kind of evidence and reports findings; the scan workflow (to come)
runs them over an artifact fetched by digest, scores the findings and gives the verdict.
"""
