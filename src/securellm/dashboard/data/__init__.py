"""What the dashboard's pages show, gathered through the gateway's own services."""
