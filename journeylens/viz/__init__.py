"""Figures (plotly): process graphs, and later Sankey, funnels, heatmaps and the HTML report."""
