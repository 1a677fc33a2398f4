"""Myntrix: agents, hardware devices and model deployments."""
