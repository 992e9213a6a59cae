"""Human review of a run in Label Studio, and the corrections back as gold rows.

tasks        rows to review -> Label Studio tasks (JSON) and a labeling config (XML)
corrections  an annotators' export -> gold rows {"id", "text", "labels"}
studio       the same through a Label Studio server (label-studio-sdk, labelwise[review])
"""
