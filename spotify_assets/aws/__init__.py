"""What the aws deployment needs besides the IO managers: the DynamoDB table definitions, the IAM
actions the code uses, and the ``spotify-assets aws`` command that creates the storage."""
