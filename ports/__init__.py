"""What the domain needs from the outside world, as typing.Protocol classes."""
