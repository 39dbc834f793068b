"""Hardware drivers: printers, buttons, serial inputs and LED boards."""
