"""A USB printer through pyusb: bulk endpoints with a timeout on every write and read."""

from __future__ import annotations

import logging
from typing import Any, Callable

from edge.drivers.printing.transports.base import Transport

logger = logging.getLogger(__name__)


class UsbTransport(Transport):
    """pyusb bulk endpoints with a timeout on every write and read; reopened after a replug."""

    def __init__(self, name: str, cfg: Any, finder: Callable[..., Any] | None = None, **kw: Any) -> None:
        super().__init__(name, profile=cfg.profile, write_timeout_s=cfg.write_timeout_s,
                         read_timeout_s=cfg.read_timeout_s, **kw)
        self.cfg = cfg
        self.can_poll = cfg.status == "poll"
        self._finder = finder
        self._out_ep = cfg.out_ep
        self._in_ep = cfg.in_ep

    @property
    def where(self) -> str:
        return f"usb {self.cfg.vendor_id:04x}:{self.cfg.product_id:04x}"

    def _find(self) -> Any:
        if self._finder is not None:
            return self._finder(idVendor=self.cfg.vendor_id, idProduct=self.cfg.product_id)
        try:
            import usb.core
        except ImportError:
            raise self.error("pyusb is not installed", "pip install pyusb (and libusb-1.0-0)") from None
        kwargs: dict[str, Any] = {"idVendor": self.cfg.vendor_id, "idProduct": self.cfg.product_id}
        if self.cfg.serial_number:
            kwargs["serial_number"] = self.cfg.serial_number
        return usb.core.find(**kwargs)

    def open(self, raise_not_found: bool = True) -> None:
        self.close()
        try:
            dev = self._find()
        except Exception as e:  # pyusb raises its own errors and NoBackendError (ValueError)
            raise self.error(f"USB lookup failed: {e}", "is libusb-1.0-0 installed?") from None
        if dev is None:
            raise self.error("not found", "printer off or unplugged; `lsusb` should list it")
        try:
            try:
                if dev.is_kernel_driver_active(0):
                    dev.detach_kernel_driver(0)  # usblp holds it otherwise
            except NotImplementedError:
                pass
            try:
                dev.set_configuration()
            except Exception as e:  # already configured by the kernel: busy is fine
                logger.debug("printer %s: set_configuration: %s", self.name, e)
            if self._out_ep is None or (self._in_ep is None and self.can_poll):
                self._find_endpoints(dev)
        except Exception as e:
            raise self.error(f"cannot claim the device: {e}",
                             "add a udev rule giving the service user access (MODE=0660, GROUP=lp)") from None
        self._device = dev

    def _find_endpoints(self, dev: Any) -> None:
        intf = dev.get_active_configuration()[(0, 0)]
        for ep in intf:
            addr = ep.bEndpointAddress
            if (ep.bmAttributes & 0x03) != 0x02:
                continue  # bulk only
            if addr & 0x80 and self._in_ep is None:
                self._in_ep = addr
            elif not addr & 0x80 and self._out_ep is None:
                self._out_ep = addr
        if self._out_ep is None:
            raise ValueError("no bulk OUT endpoint; set out_ep")

    def _raw(self, msg: bytes) -> None:
        if self._device is None:
            raise self.error("not connected")
        try:
            n = self._device.write(self._out_ep, msg, int(self.write_timeout_s * 1000))
        except Exception as e:  # usb.core.USBError / USBTimeoutError (pyusb is optional)
            if _timed_out(e):
                raise self.error(f"write timed out after {self.write_timeout_s:g} s",
                                 "printer busy, off or out of paper") from None
            raise self.error(f"write failed: {e}", "unplugged?") from None
        if n is not None and n < len(msg):
            raise self.error(f"only {n} of {len(msg)} bytes were taken", "printer busy")

    def _read(self) -> bytes:
        # A status reply may come after stale bytes: the last one answers the query.
        return self._bulk_read(16, int(self.read_timeout_s * 1000))[-1:]

    def _read_some(self, timeout: float) -> bytes:
        return self._bulk_read(64, max(1, int(timeout * 1000)))

    def _bulk_read(self, size: int, timeout_ms: int) -> bytes:
        """Up to `size` bytes from the IN endpoint, or b"" (no endpoint, or silence)."""
        if self._device is None:
            raise self.error("not connected")
        if self._in_ep is None:
            return b""
        try:
            return bytes(self._device.read(self._in_ep, size, timeout_ms))
        except Exception as e:
            if _timed_out(e):
                return b""
            raise self.error(f"read failed: {e}", "unplugged?") from None

    def _close(self, dev: Any) -> None:
        try:
            import usb.util
            usb.util.dispose_resources(dev)
        except Exception as e:  # unplugged device or no pyusb: nothing left to free
            logger.debug("printer %s: dispose: %s", self.name, e)


def _timed_out(e: Exception) -> bool:
    # pyusb is optional, so its USBTimeoutError is recognised by name, not imported.
    return "timeout" in type(e).__name__.lower() or "timed out" in str(e).lower()
