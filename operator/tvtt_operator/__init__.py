"""Traveller VTT operator: reconciles TravellerVTT resources into game server workloads."""
