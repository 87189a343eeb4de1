"""The identities every reference etcd backend reports: the cluster ID and the member IDs."""

import hashlib
from typing import Final

CLUSTER_ID: Final = 0x6B75_6265_6F72_6163  # "kubeorac"


def member_id_for(index: int) -> int:
    """A stable 63-bit member ID from the member's index."""
    digest = hashlib.blake2b(f"kubeoracle-member-{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)
