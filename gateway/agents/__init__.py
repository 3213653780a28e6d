"""The agents the gateway hosts, and the registry that holds them."""
