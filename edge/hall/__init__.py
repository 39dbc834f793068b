"""The hall screen: a read-only page with live calls and waiting counts for the TV."""
