"""Traveller VTT game server: an authoritative, event-sourced starship-combat server."""
