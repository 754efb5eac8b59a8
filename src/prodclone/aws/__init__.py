"""AWS side of the clone: RDS snapshots and throwaway instances, tunnels, tags, cost.

boto3 is imported only inside the functions that talk to AWS, so listing the
tasks stays fast.
"""
