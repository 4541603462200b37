"""What the aws deployment needs besides the IO managers: the DynamoDB table definitions, the IAM
actions the code uses, the parts of the CloudFormation template generated from both, the Dagster+
files written from the stack, and the ``spotify-assets aws`` command that drives them."""
