#!/usr/bin/env python3
"""tidbpe test lab: moto (server mode, in-process) + PrivateLink worlds, built on demand.

Usage:
    .venv/bin/python tests/lab/lab.py --serve
    .venv/bin/python tests/lab/lab.py --scenario NAME [--imds]
    .venv/bin/python tests/lab/lab.py --scenario A --scenario B ... | --all [--imds]
    .venv/bin/python tests/lab/lab.py --list

Starts moto on a free 127.0.0.1 port (with the patches below) and builds
worlds (scenarios) in it, each with its own VPCs and endpoint service, through
moto's own API handlers in-process (boto3 with moto's in-process mock, which
shares the server's state). The doctor reaches the same moto over HTTP.

--serve: prints ONE line of JSON ({"endpoint_url", "region", "account"}), then
reads world names from stdin, one per line, and answers each with one line of
JSON: the world (built on first request, with its own IMDSv2 server) or
{"error": "..."}. This is how the end-to-end tests share one lab per test
binary. --scenario/--all: builds the named worlds first, prints ONE line of
JSON and serves. Either way the lab serves until its stdin reaches EOF or
SIGTERM/SIGINT arrives, then exits at once. Logs go to stderr. See README.md.
"""

# --- Keep every byte of traffic on loopback, with dummy credentials. --------
import os

for _k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
           "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "HTTP_PROXY", "HTTPS_PROXY",
           "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_k, None)
os.environ.update({
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
})

import argparse  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

T0 = time.monotonic()
REGION = "us-east-1"
ACCOUNT = "123456789012"
HOST = f"gateway01-privatelink.{REGION}.prod.aws.tidbcloud.com"
# A newer cluster's own host (its own endpoint service): not gateway01.
OWN_HOST = f"tidb-0a1b2c3d-privatelink.{REGION}.prod.aws.tidbcloud.com"
IMAGE_ID = "ami-0a1b2c3d4e5f60718"  # moto does not validate AMIs by default
log = logging.getLogger("lab")


# --- moto patches (applied before the server starts) ------------------------
def apply_speed_patches():
    """Same answers, less Python per request. Every test of a binary shares
    one moto holding every world, so moto's CPU per request is the suite's
    run time; these are the hot spots cProfile found in it (moto 5.2.5)."""
    import functools

    from moto import backends
    from moto.core import responses as core_responses
    from moto.core import serialize
    from moto.ec2.models import core as ec2_core
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    # (a) A resource's tags by its ID: TagBackend.describe_tags scans every tag
    # of the account with a regex per resource, so a listing cost resources x
    # tags. One dictionary lookup.
    def get_tags(self):
        rid = getattr(self, "id", None)
        if not rid:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
        return [{"resource_id": rid, "key": k, "value": v, "resource_type": kind}
                for k, v in self.ec2_backend.tags.get(rid, {}).items()]

    ec2_core.TaggedEC2Resource.get_tags = get_tags

    # (b) moto's service modules: listed from the disk (a stat per module) on
    # every request to find the request's backend.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    # (c) A response class's method names (inspect.getmembers on every request).
    core_responses.method_names_from_class = functools.cache(core_responses.method_names_from_class)

    # (d) The attribute names the serializer tries for a model member depend on
    # the picker, the object's class, the key and the member's shape (and its
    # parent): worked out once each instead of for every member of every item.
    keys_of = {}
    transforms_of = {}

    def pick(self, context):
        obj, shape = context.obj, context.shape
        parent = getattr(shape, "parent", None)
        ck = (type(self), type(obj), context.key, id(shape), id(parent))
        hit = keys_of.get(ck)
        if hit is None:
            # shape and parent are kept alive with their keys, so their ids stay theirs
            hit = keys_of[ck] = (tuple(self.get_possible_keys(context)), shape, parent)
        for possible_key in hit[0]:
            value = serialize.get_value(obj, possible_key, serialize.MISSING)
            if value is not serialize.MISSING:
                break
        else:
            value = None
        if self.response_transformers:
            # The transform of a member path: looked up once per path.
            tk = (id(self.response_transformers), context.key_path, context.key)
            found = transforms_of.get(tk)
            if found is None:
                key_path = f"{context.key_path}.{context.key}"
                found = transforms_of[tk] = (next(
                    (t for p, t in self.response_transformers.items() if key_path.endswith(p)), False),
                    self.response_transformers)
            if found[0]:
                value = found[0](value)
        return value

    serialize.AttributePicker.__call__ = pick

    # (e) xmltodict checks every element name of every answer character by
    # character; the names are the API model's few hundred: check each once.
    import xmltodict

    valid_names = set()
    check_name = xmltodict._validate_name

    def validate_name(value, kind):
        if (value, kind) not in valid_names:
            check_name(value, kind)
            if isinstance(value, str):
                valid_names.add((value, kind))

    xmltodict._validate_name = validate_name


def apply_moto_patches():
    from moto.ec2.models import network_acls as nacl_mod
    from moto.ec2.models import vpcs as vpcs_mod
    from moto.ec2.responses import vpcs as vpc_responses

    # (i) An endpoint's state follows its tag "lab:state" (moto: always
    # "available"), until it is deleted: a deleted endpoint says "deleted",
    # whatever its tag said before (a fix that deletes it must show).
    def get_state(self):
        if self.__dict__.get("_lab_state") == "deleted":
            return "deleted"
        for tag in self.get_tags():
            if tag.get("key") == "lab:state":
                return tag.get("value")
        return self.__dict__.get("_lab_state", "available")

    def set_state(self, value):
        self.__dict__["_lab_state"] = value

    vpcs_mod.VPCEndPoint.state = property(get_state, set_state)

    # (ii) Endpoint ENIs get their IP from their subnet, as in AWS. moto 5.2.5's
    # create_vpc_endpoint calls random_private_ip() with no subnet (vpcs.py),
    # which gives a random 10.x address; the patched name returns None, and the
    # NetworkInterface then draws from its subnet's CIDR itself
    # (elastic_network_interfaces.py). The endpoint patch below then picks the
    # final address: off the 4 + 1 addresses AWS reserves, off addresses
    # already used in that subnet, and deterministic per subnet CIDR (the first
    # endpoint in a fresh 10.0.1.0/24 is always 10.0.1.227), whatever other
    # worlds the same moto holds and in whatever order they were built.
    orig_vpcs_ip = vpcs_mod.random_private_ip

    def vpcs_random_private_ip(cidr=None, ipv6=False):
        if cidr is None and not ipv6:
            return None
        return orig_vpcs_ip(cidr, ipv6)

    vpcs_mod.random_private_ip = vpcs_random_private_ip

    def subnet_address(backend, subnet, eni):
        used = {n.private_ip_address for n in list(backend.enis.values())
                if n is not eni and getattr(n.subnet, "id", None) == subnet.id}
        net = ipaddress.IPv4Network(subnet.cidr_block, strict=False)
        first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1
        rng = random.Random(str(net))
        for _ in range(1000):
            ip = str(ipaddress.IPv4Address(rng.randint(first, last)))
            if ip not in used:
                return ip
        return eni.private_ip_address

    # (iii) Endpoint ENIs look like AWS's: they carry the endpoint's security
    # groups (moto gives them the VPC's default group), interface type
    # "vpc_endpoint", requester-managed, the description
    # "VPC Endpoint Interface vpce-...", and an address as in (ii). They follow
    # ModifyVpcEndpoint too: added subnets get an interface, removed subnets
    # lose theirs, added/removed security groups apply to every interface
    # (moto only edits the endpoint's lists).
    def dress_enis(backend, ep, new_eni_ids=None):
        groups = [g for g in (backend.get_security_group_from_id(i) for i in ep.security_group_ids or []) if g]
        for eni_id in ep.network_interface_ids:
            eni = backend.enis.get(eni_id)
            if eni is None:
                continue
            eni._group_set = list(groups)
            eni.interface_type = "vpc_endpoint"
            eni.requester_managed = True
            eni.description = f"VPC Endpoint Interface {ep.id}"
            if new_eni_ids is None or eni_id in new_eni_ids:
                ip = subnet_address(backend, eni.subnet, eni)
                eni.private_ip_address = ip
                eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": ip}]

    # (vi) An interface endpoint's DnsEntries look like AWS's (moto gives one
    # malformed entry, "vpce-…-x.com.amazonaws.vpce…"): the regional name
    # first, then one zonal name per subnet's AZ, then, with private DNS on,
    # the service's private DNS name.
    def aws_dns_entries(backend, ep):
        svc_id = ep.service_name.rsplit(".", 1)[-1]
        rng = random.Random(ep.id)
        suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
        zone = "Z7HUB22UULQXV"  # AWS's zone for us-east-1's vpce.amazonaws.com names
        entries = [{"dns_name": f"{ep.id}-{suffix}.{svc_id}.{REGION}.vpce.amazonaws.com", "hosted_zone_id": zone}]
        for subnet_id in ep.subnet_ids or []:
            az = backend.get_subnet(subnet_id).availability_zone
            entries.append({"dns_name": f"{ep.id}-{suffix}-{az}.{svc_id}.{REGION}.vpce.amazonaws.com",
                            "hosted_zone_id": zone})
        return entries

    def private_dns_entry(backend, ep):
        svc = backend.configurations.get(ep.service_name.rsplit(".", 1)[-1])
        name = svc and svc.private_dns_name
        if not name and ep.service_name.startswith(f"com.amazonaws.{REGION}."):
            # An AWS service's own endpoint (ssm, kms, …: the large world's
            # others): the service's regional name, as AWS gives it.
            name = f"{ep.service_name.rsplit('.', 1)[-1]}.{REGION}.amazonaws.com"
        return {"dns_name": name or HOST, "hosted_zone_id": "ZPRIVATEDNSLAB"}

    def dress_dns_entries(backend, ep):
        regional_and_zonal = [e for e in (ep.dns_entries or []) if e.get("hosted_zone_id") != "ZPRIVATEDNSLAB"]
        if not regional_and_zonal or ".vpce.amazonaws.com" not in regional_and_zonal[0]["dns_name"]:
            regional_and_zonal = aws_dns_entries(backend, ep)
        ep.dns_entries = regional_and_zonal + ([private_dns_entry(backend, ep)] if ep.private_dns_enabled else [])

    orig_create = vpcs_mod.VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self, *args, **kwargs):
        ep = orig_create(self, *args, **kwargs)
        if (ep.vpc_endpoint_type or "").lower() == "interface":
            dress_enis(self, ep)
            dress_dns_entries(self, ep)
        return ep

    vpcs_mod.VPCBackend.create_vpc_endpoint = create_vpc_endpoint

    orig_modify = vpcs_mod.VPCBackend.modify_vpc_endpoint

    def modify_vpc_endpoint(self, vpc_id, policy_doc, add_subnets, remove_subnets, *args, **kwargs):
        orig_modify(self, vpc_id, policy_doc, add_subnets, remove_subnets, *args, **kwargs)
        ep = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0]
        if (ep.vpc_endpoint_type or "").lower() != "interface":
            return
        by_subnet = {}
        for eni_id in ep.network_interface_ids:
            eni = self.enis.get(eni_id)
            if eni is not None:
                by_subnet[eni.subnet.id] = eni_id
        for subnet_id in remove_subnets or []:
            eni_id = by_subnet.pop(subnet_id, None)
            if eni_id:
                self.enis.pop(eni_id, None)
                ep.network_interface_ids.remove(eni_id)
        new = set()
        for subnet_id in add_subnets or []:
            if subnet_id not in by_subnet:
                self.get_subnet(subnet_id)
                eni = self.create_network_interface(subnet_id, None)
                ep.network_interface_ids.append(eni.id)
                new.add(eni.id)
        dress_enis(self, ep, new)

    vpcs_mod.VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint

    # (v) ModifyVpcEndpoint honours PrivateDnsEnabled (moto answers Return: true
    # and ignores it), so a printed `modify-vpc-endpoint --private-dns-enabled`
    # really turns private DNS on.
    orig_modify_response = vpc_responses.VPCs.modify_vpc_endpoint

    def modify_vpc_endpoint_response(self):
        result = orig_modify_response(self)
        enabled = self._get_bool_param("PrivateDnsEnabled")
        if enabled is not None:
            ep = self.ec2_backend.describe_vpc_endpoints(vpc_end_point_ids=[self._get_param("VpcEndpointId")])[0]
            ep.private_dns_enabled = enabled
            if (ep.vpc_endpoint_type or "").lower() == "interface":
                dress_dns_entries(self.ec2_backend, ep)
        return result

    vpc_responses.VPCs.modify_vpc_endpoint = modify_vpc_endpoint_response

    # (iv) A custom network ACL has the final "*" (32767) deny entries in both
    # directions, as in AWS (moto adds them only to a VPC's default ACL).
    orig_create_acl = nacl_mod.NetworkAclBackend.create_network_acl

    def create_network_acl(self, vpc_id, tags=None, default=False):
        acl = orig_create_acl(self, vpc_id, tags, default)
        if not default:
            for egress in (True, False):
                self.create_network_acl_entry(
                    network_acl_id=acl.id, rule_number=32767, protocol="-1", rule_action="deny", egress=egress,
                    cidr_block="0.0.0.0/0", icmp_code=None, icmp_type=None, port_range_from=None,
                    port_range_to=None, ipv6_cidr_block=None)
        return acl

    nacl_mod.NetworkAclBackend.create_network_acl = create_network_acl

    paginate_listings()


# (vi) Listings follow MaxResults/NextToken as in AWS (moto 5.2.5 ignores them
# for these calls and answers everything at once), so a doctor asked for
# small pages (TIDBPE_PAGE_SIZE) really crosses pages. Like AWS: MaxResults
# outside the call's range is InvalidParameterValue, beside explicit IDs it is
# InvalidParameterCombination, and a token this lab did not give is
# InvalidNextToken. Without MaxResults or NextToken, everything comes at once.
# (module, response class, method, result key, (min, max), IDs parameter)
PAGED_LISTINGS = (
    ("security_groups", "SecurityGroups", "describe_security_groups", "SecurityGroups", (5, 1000), "GroupIds"),
    ("subnets", "Subnets", "describe_subnets", "Subnets", (5, 1000), "SubnetIds"),
    ("network_acls", "NetworkACLs", "describe_network_acls", "NetworkAcls", (5, 100), "NetworkAclIds"),
    ("elastic_network_interfaces", "ElasticNetworkInterfaces", "describe_network_interfaces", "NetworkInterfaces",
     (5, 1000), "NetworkInterfaceIds"),
    ("dhcp_options", "DHCPOptions", "describe_dhcp_options", "DhcpOptions", (5, 1000), None),
    ("vpcs", "VPCs", "describe_vpc_endpoints", "VpcEndpoints", (1, 1000), None),
    ("vpcs", "VPCs", "get_managed_prefix_list_entries", "Entries", (1, 100), None),
)


def paginate_listings():
    import importlib

    from moto.core.responses import ActionResult
    from moto.ec2 import exceptions as ec2_errors
    from moto.route53 import responses as r53_responses
    from moto.route53.exceptions import InvalidInput

    def page(items, size, token, bad_token):
        start = 0
        if token:
            if not token.startswith("lab-page-") or not token[9:].isdigit():
                raise bad_token(token)
            start = int(token[9:])
        end = start + size
        return items[start:end], (f"lab-page-{end}" if end < len(items) else None)

    def ec2_paged(orig, key, lo, hi, ids_param):
        def paged(self):
            size, token = self._get_param("MaxResults"), self._get_param("NextToken")
            if size is None and not token:
                return orig(self)
            if size is not None and ids_param and self._get_param(ids_param):
                raise ec2_errors.InvalidParameterCombination(
                    f"The parameter {ids_param} cannot be used with the parameter maxResults")
            size = int(size) if size is not None else hi
            if not lo <= size <= hi:
                raise ec2_errors.InvalidParameterValueError(f"{size} (MaxResults: {lo} to {hi})")
            result = orig(self).result
            items, next_token = page(list(result.get(key) or []), size, token, ec2_errors.InvalidNextToken)
            return ActionResult({**result, key: items, "NextToken": next_token})
        return paged

    for module, cls_name, method, key, (lo, hi), ids_param in PAGED_LISTINGS:
        cls = getattr(importlib.import_module(f"moto.ec2.responses.{module}"), cls_name)
        setattr(cls, method, ec2_paged(getattr(cls, method), key, lo, hi, ids_param))

    # Route 53: MaxItems (1 to 100 here) and NextToken.
    orig_by_vpc = r53_responses.Route53.list_hosted_zones_by_vpc

    def list_hosted_zones_by_vpc(self):
        size, token = self._get_param("MaxItems"), self._get_param("NextToken")
        if size is None and not token:
            return orig_by_vpc(self)
        size = int(size) if size is not None else 100
        if not 1 <= size <= 100:
            raise InvalidInput(f"MaxItems {size} is not between 1 and 100")
        result = orig_by_vpc(self).result
        items, next_token = page(list(result.get("HostedZoneSummaries") or []), size, token,
                                 lambda t: InvalidInput(f"NextToken {t} is invalid"))
        return ActionResult({**result, "HostedZoneSummaries": items, "MaxItems": str(size),
                             "NextToken": next_token})

    r53_responses.Route53.list_hosted_zones_by_vpc = list_hosted_zones_by_vpc


# --- moto patches for what AWS knows beyond the guide (issue 13) --------------
def apply_beyond_patches():
    """What moto 5.2.5 leaves out of the answers the doctor reads for SVC002,
    EP002, IPV001 and DNS004; worlds set the values on the backend objects
    (`lab_*` attributes, see `Lab.beyond`)."""
    from moto.ec2.models import subnets as subnets_mod
    from moto.ec2.models import vpc_service_configuration as svc_mod
    from moto.ec2.models import vpcs as vpcs_mod

    # (b1) DescribeVpcEndpointServices carries PrivateDnsNameVerificationState,
    # SupportedIpAddressTypes and ServiceRegion, as AWS does (moto: none).
    orig_to_dict = svc_mod.VPCServiceConfiguration.to_dict

    def to_dict(self):
        d = orig_to_dict(self)
        if self.private_dns_name:
            d["PrivateDnsNameVerificationState"] = getattr(self, "lab_verification_state", "verified")
        d["SupportedIpAddressTypes"] = list(getattr(self, "lab_ip_types", ["ipv4"]))
        d["ServiceRegion"] = REGION
        return d

    svc_mod.VPCServiceConfiguration.to_dict = to_dict

    # (b2) An interface endpoint has an IpAddressType (moto: none): ipv4
    # unless a world says otherwise.
    vpcs_mod.VPCEndPoint.ip_address_type = property(lambda self: self.__dict__.get("lab_ip_address_type", "ipv4"))

    # (b3) An IPv6-only subnet has no IPv4 address to offer: AWS says 0
    # available; moto says 2**64 - 5, more than the API's 32-bit integer,
    # and the SDK then refuses the whole DescribeSubnets answer.
    orig_count = subnets_mod.Subnet.available_ip_address_count

    def available_ip_address_count(self):
        return 0 if not self.cidr_block else orig_count.fget(self)

    subnets_mod.Subnet.available_ip_address_count = property(available_ip_address_count)

    # (b4) An interface in an IPv6-only subnet of a VPC with DNS hostnames on
    # gets a host name (moto's helper splits an IPv4 address and fails on an
    # IPv6 one; AWS names such instances by resource, this one by address).
    from moto.ec2.models import elastic_network_interfaces as eni_mod

    orig_dns_from_ip = eni_mod.generate_dns_from_ip

    def generate_dns_from_ip(ip, dns_type="internal"):
        if ":" in str(ip):
            return f"ip6-{str(ip).split('/')[0].replace(':', '-')}.ec2.{dns_type}"
        return orig_dns_from_ip(ip, dns_type)

    eni_mod.generate_dns_from_ip = generate_dns_from_ip


# --- scenario building --------------------------------------------------------
def rule(proto, lo=None, hi=None, *, cidr=None, sg=None, pl=None):
    """One IpPermission for authorize_security_group_ingress/egress."""
    p = {"IpProtocol": proto}
    if proto != "-1":
        p["FromPort"], p["ToPort"] = lo, (hi if hi is not None else lo)
    if cidr:
        p["IpRanges"] = [{"CidrIp": cidr}]
    if sg:
        p["UserIdGroupPairs"] = [{"GroupId": sg}]
    if pl:
        p["PrefixListIds"] = [{"PrefixListId": pl}]
    return p


# NACL entry: (rule_number, egress, action, protocol, (from, to) or None, cidr)
def nacl(subnets, *entries):
    return {"subnets": subnets, "entries": entries}


def acl(num, egress, action, proto="-1", ports=None, cidr="0.0.0.0/0"):
    return (num, egress, action, proto, ports, cidr)


def ec2_tags(**kv):
    return [{"Key": k, "Value": v} for k, v in kv.items()]


class Lab:
    """Builds worlds through boto3 clients that moto's in-process mock answers.

    The mock dispatches each call to the same handlers and the same state as
    the HTTP server the doctor talks to, without the HTTP round trip (a world
    builds ~2.5x faster). The caller holds MOTO_LOCK while building.
    """

    def __init__(self):
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
        sess = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=REGION)
        mk = lambda svc: sess.client(svc, config=cfg)  # noqa: E731
        self.ec2, self.elbv2, self.r53, self.sts = mk("ec2"), mk("elbv2"), mk("route53"), mk("sts")
        self.r53r = mk("route53resolver")
        self.default_dhcp = None

    # -- small helpers
    def vpc(self, cidr, name, dns_support=True, dns_hostnames=True):
        vpc_id = self.ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": ec2_tags(Name=name)}])["Vpc"]["VpcId"]
        self.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": dns_support})
        self.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": dns_hostnames})
        return vpc_id

    def subnet(self, vpc_id, cidr, az_id, name):
        return self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZoneId=az_id, TagSpecifications=[
            {"ResourceType": "subnet", "Tags": ec2_tags(Name=name)}])["Subnet"]["SubnetId"]

    def sg(self, vpc_id, name):
        return self.ec2.create_security_group(VpcId=vpc_id, GroupName=name, Description=f"lab {name}")["GroupId"]

    def endpoint(self, vpc_id, service_name, subnet_ids, sg_ids, private_dns, name, state=None):
        tags = {"Name": name}
        if state:
            tags["lab:state"] = state
        return self.ec2.create_vpc_endpoint(
            VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=service_name, SubnetIds=list(subnet_ids),
            SecurityGroupIds=list(sg_ids), PrivateDnsEnabled=private_dns,
            TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": ec2_tags(**tags)}],
        )["VpcEndpoint"]["VpcEndpointId"]

    def custom_nacl(self, vpc_id, subnet_ids, entries):
        acl_id = self.ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
        for num, egress, action, proto, ports, cidr in entries:
            kw = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
            self.ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=num, Protocol=proto,
                                              RuleAction=action, Egress=egress, CidrBlock=cidr, **kw)
        for subnet_id in subnet_ids:
            acls = self.ec2.describe_network_acls(
                Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["NetworkAcls"]
            assoc = next(a["NetworkAclAssociationId"] for n in acls for a in n["Associations"]
                         if a["SubnetId"] == subnet_id)
            self.ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl_id)
        return acl_id

    # -- issue 13: what AWS and TiDB Cloud know beyond the guide
    def beyond(self, w, tag, *, service_host=None, verification=None, acceptance_required=None,
               service_ip_types=None, endpoint_ip_type=None, resolver_rules=(), ipv6_only_client=False):
        """Change a built world: the service's private DNS name and its
        verification state, AcceptanceRequired, the service's and the
        endpoint's IP families, Resolver rules associated with the VPC
        ((domain, type) pairs), a client instance in an IPv6-only subnet."""
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[ACCOUNT][REGION]
        svc = backend.configurations[w["service_id"]]
        if service_host:
            svc.private_dns_name = service_host
            w["host"] = service_host
        if verification:
            svc.lab_verification_state = verification
        if acceptance_required is not None:
            svc.acceptance_required = acceptance_required
        if service_ip_types:
            svc.lab_ip_types = list(service_ip_types)
        if endpoint_ip_type and w.get("endpoint_id"):
            backend.vpc_end_points[w["endpoint_id"]].__dict__["lab_ip_address_type"] = endpoint_ip_type
        if resolver_rules:
            # FORWARD rules go out through an outbound endpoint (AWS requires
            # one; two addresses in two AZs).
            out = self.r53r.create_resolver_endpoint(
                CreatorRequestId=f"lab-out-{tag}", Name=f"lab-out-{tag}", Direction="OUTBOUND",
                SecurityGroupIds=[w["other_sg"]],
                IpAddresses=[{"SubnetId": w["subnets"]["az1"], "Ip": "10.0.1.53"},
                             {"SubnetId": w["subnets"]["az2"], "Ip": "10.0.2.53"}])["ResolverEndpoint"]["Id"]
            w["resolver_rule_ids"] = []
            for i, (domain, kind) in enumerate(resolver_rules):
                args = dict(CreatorRequestId=f"lab-rule-{tag}-{i}", Name=f"lab-rule-{i}", RuleType=kind,
                            DomainName=domain)
                if kind == "FORWARD":
                    args.update(TargetIps=[{"Ip": "192.168.100.2", "Port": 53}], ResolverEndpointId=out)
                rule_id = self.r53r.create_resolver_rule(**args)["ResolverRule"]["Id"]
                self.r53r.associate_resolver_rule(ResolverRuleId=rule_id, VPCId=w["vpc_id"], Name=f"lab-{i}")
                w["resolver_rule_ids"].append(rule_id)
        if ipv6_only_client:
            # An IPv6 block for the VPC, an IPv6-only subnet in use1-az1, and
            # a second instance there (the world's own instance stays).
            self.ec2.associate_vpc_cidr_block(VpcId=w["vpc_id"], AmazonProvidedIpv6CidrBlock=True)
            # AWS then adds ::/0 allow rules (101) to the VPC's default network ACL.
            default_acl = self.ec2.describe_network_acls(Filters=[
                {"Name": "vpc-id", "Values": [w["vpc_id"]]}, {"Name": "default", "Values": ["true"]}])
            for egress in (False, True):
                self.ec2.create_network_acl_entry(
                    NetworkAclId=default_acl["NetworkAcls"][0]["NetworkAclId"], RuleNumber=101, Protocol="-1",
                    RuleAction="allow", Egress=egress, Ipv6CidrBlock="::/0")
            vpc = self.ec2.describe_vpcs(VpcIds=[w["vpc_id"]])["Vpcs"][0]
            block = next(a["Ipv6CidrBlock"] for a in vpc["Ipv6CidrBlockAssociationSet"])
            cidr6 = str(next(ipaddress.IPv6Network(block).subnets(new_prefix=64)))
            sub6 = self.ec2.create_subnet(VpcId=w["vpc_id"], Ipv6CidrBlock=cidr6, Ipv6Native=True,
                                          AvailabilityZoneId="use1-az1")["Subnet"]["SubnetId"]
            inst = self.ec2.run_instances(ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                          SubnetId=sub6, SecurityGroupIds=[w["client_sg"]])["Instances"][0]
            w.update(ipv6_subnet_id=sub6, ipv6_instance_id=inst["InstanceId"])

    # -- the world
    def build(self, *, tag="0", dns_support=True, dns_hostnames=True, endpoint=True, endpoint_subnets=("az1", "az2"),
              private_dns=True, state=None, conflict_endpoint=False, dhcp_servers=None, hosted_zone=None,
              prefix_list=None, endpoint_ingress=None, client_egress=None, nacl=None, second_vpc=False,
              deleted_endpoint=False, beyond=None, large=False):
        ec2, w = self.ec2, {"region": REGION, "host": HOST}

        # Provider side: NLB in use1-az1 + use1-az2, endpoint service over it.
        pvpc = self.vpc("10.100.0.0/16", "tidb-provider")
        psubnets = [self.subnet(pvpc, "10.100.1.0/24", "use1-az1", "provider-az1"),
                    self.subnet(pvpc, "10.100.2.0/24", "use1-az2", "provider-az2")]
        nlb = self.elbv2.create_load_balancer(Name=f"tidb-gw-{tag}", Type="network", Scheme="internal",
                                              Subnets=psubnets)["LoadBalancers"][0]["LoadBalancerArn"]
        svc = ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False, PrivateDnsName=HOST)["ServiceConfiguration"]
        w.update(service_name=svc["ServiceName"], service_id=svc["ServiceId"], service_az_ids=["use1-az1", "use1-az2"],
                 provider_vpc_id=pvpc)

        # Consumer VPC.
        vpc_id = self.vpc("10.0.0.0/16", "tidb-client", dns_support, dns_hostnames)
        subnets = {k: self.subnet(vpc_id, cidr, az, k) for k, cidr, az in (
            ("az1", "10.0.1.0/24", "use1-az1"), ("az2", "10.0.2.0/24", "use1-az2"),
            ("az6", "10.0.3.0/24", "use1-az6"), ("client", "10.0.10.0/24", "use1-az1"))}
        w.update(vpc_id=vpc_id, vpc_cidr="10.0.0.0/16", subnets=subnets)
        # AWS gives a new VPC the region's default DHCP option set, one for
        # every VPC of the account; moto says "default" and has no set. The
        # worlds share one too (the doctor lists them all: fewer to list).
        if dhcp_servers:
            dhcp = [{"Key": "domain-name-servers", "Values": list(dhcp_servers)}]
            w["dhcp_options_id"] = ec2.create_dhcp_options(DhcpConfigurations=dhcp)["DhcpOptions"]["DhcpOptionsId"]
        else:
            if self.default_dhcp is None:
                dhcp = [{"Key": "domain-name", "Values": ["ec2.internal"]},
                        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]}]
                self.default_dhcp = ec2.create_dhcp_options(DhcpConfigurations=dhcp)["DhcpOptions"]["DhcpOptionsId"]
            w["dhcp_options_id"] = self.default_dhcp
        ec2.associate_dhcp_options(DhcpOptionsId=w["dhcp_options_id"], VpcId=vpc_id)
        for key in ("client_sg", "endpoint_sg", "other_sg"):
            w[key] = self.sg(vpc_id, key.replace("_", "-"))
        w["groups"] = {k: w[f"{k}_sg"] for k in ("client", "endpoint", "other")}
        if prefix_list:
            w["prefix_list_id"] = ec2.create_managed_prefix_list(
                PrefixListName=f"lab-clients-{tag}", AddressFamily="IPv4", MaxEntries=5,
                Entries=[{"Cidr": c} for c in prefix_list])["PrefixList"]["PrefixListId"]
        ingress = endpoint_ingress(w) if endpoint_ingress else [rule("tcp", 4000, sg=w["client_sg"])]
        ec2.authorize_security_group_ingress(GroupId=w["endpoint_sg"], IpPermissions=ingress)
        if client_egress:
            ec2.revoke_security_group_egress(GroupId=w["client_sg"], IpPermissions=[rule("-1", cidr="0.0.0.0/0")])
            ec2.authorize_security_group_egress(GroupId=w["client_sg"], IpPermissions=client_egress(w))

        inst = ec2.run_instances(ImageId=IMAGE_ID, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SubnetId=subnets["client"], SecurityGroupIds=[w["client_sg"]], TagSpecifications=[
                                     {"ResourceType": "instance", "Tags": ec2_tags(Name="tidb-client")}])["Instances"][0]
        w.update(instance_id=inst["InstanceId"], client_ip=inst["PrivateIpAddress"])

        if hosted_zone:
            zid = self.r53.create_hosted_zone(
                Name=hosted_zone, CallerReference=f"lab-{tag}-{hosted_zone}", VPC={"VPCRegion": REGION, "VPCId": vpc_id},
                HostedZoneConfig={"Comment": "lab", "PrivateZone": True})["HostedZone"]["Id"]
            w["hosted_zone_id"] = zid.split("/")[-1]
        if nacl:
            w["nacl_id"] = self.custom_nacl(vpc_id, [subnets[s] for s in nacl["subnets"]], nacl["entries"])

        w["endpoint_id"] = None
        if deleted_endpoint:
            # Deleted before the live one was made (delete and recreate is how
            # people fix private DNS): moto, like AWS, keeps listing it in state
            # "deleted" with the IDs of interfaces that no longer exist.
            w["deleted_endpoint_id"] = self.endpoint(vpc_id, w["service_name"], [subnets["az1"], subnets["az2"]],
                                                     [w["endpoint_sg"]], private_dns, "tidb-old")
            stale = ec2.describe_vpc_endpoints(
                VpcEndpointIds=[w["deleted_endpoint_id"]])["VpcEndpoints"][0]["NetworkInterfaceIds"]
            w["deleted_endpoint_interface_ids"] = stale
            ec2.delete_vpc_endpoints(VpcEndpointIds=[w["deleted_endpoint_id"]])
            # What the world is for: check it, so that "the world builds" means it.
            gone = ec2.describe_vpc_endpoints(VpcEndpointIds=[w["deleted_endpoint_id"]])["VpcEndpoints"][0]
            if gone["State"].lower() != "deleted" or gone["NetworkInterfaceIds"] != stale:
                raise RuntimeError(f"moto lists the deleted endpoint as {gone}")
            try:
                ec2.describe_network_interfaces(NetworkInterfaceIds=stale)
                raise RuntimeError("the deleted endpoint's interfaces still exist")
            except ec2.exceptions.ClientError as e:
                if e.response["Error"]["Code"] != "InvalidNetworkInterfaceID.NotFound":
                    raise
        if endpoint:
            w["endpoint_id"] = self.endpoint(vpc_id, w["service_name"], [subnets[s] for s in endpoint_subnets],
                                             [w["endpoint_sg"]], private_dns, "tidb", state)
        if conflict_endpoint:
            w["conflict_endpoint_id"] = self.endpoint(vpc_id, w["service_name"], [subnets["az1"], subnets["az2"]],
                                                      [w["endpoint_sg"]], False, "tidb-second")
        if second_vpc:
            v2 = self.vpc("10.1.0.0/16", "tidb-client-2")
            s2 = self.subnet(v2, "10.1.1.0/24", "use1-az1", "client2-az1")
            sg2 = self.sg(v2, "endpoint-sg-2")
            ec2.authorize_security_group_ingress(GroupId=sg2, IpPermissions=[rule("tcp", 4000, cidr="10.1.0.0/16")])
            w.update(second_vpc_id=v2, second_endpoint_id=self.endpoint(v2, w["service_name"], [s2], [sg2], True,
                                                                        "tidb-vpc2"))

        if beyond:
            self.beyond(w, tag, **beyond)

        eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
        w["endpoint_ids"] = sorted((e["VpcEndpointId"] for e in eps), key=lambda i: i != w["endpoint_id"])
        w["endpoint_ips"] = []
        main = [e for e in eps if e["VpcEndpointId"] == w["endpoint_id"]]
        if main and main[0]["NetworkInterfaceIds"]:
            enis = ec2.describe_network_interfaces(NetworkInterfaceIds=main[0]["NetworkInterfaceIds"])
            by_id = {n["NetworkInterfaceId"]: n["PrivateIpAddress"] for n in enis["NetworkInterfaces"]}
            w["endpoint_ips"] = [by_id[i] for i in main[0]["NetworkInterfaceIds"]]
        if large:
            self.enlarge(w, tag)
        return w

    # -- the large world: the healthy one inside a VPC the size of a real one
    def enlarge(self, w, tag):
        """200 security groups (rules naming each other and prefix lists), 100
        subnets over every AZ, 20 custom network ACLs of 40 entries each, 50
        interface endpoints of other services, 5 private hosted zones; every
        subnet under a custom ACL. The TiDB endpoint's group also admits 4000
        from a prefix list that does not hold the client, so SG001 must read
        prefix lists to judge it.

        Built through moto's EC2 backend directly (the same state the server
        answers from): ~1,500 API calls through boto3's in-process mock take
        ~8 s on 2 cores, the backend calls a fraction of a second."""
        from moto.ec2.models import ec2_backends
        from moto.ec2.responses.security_groups import parse_sg_attributes_from_dict

        ec2, vpc_id = self.ec2, w["vpc_id"]
        be = ec2_backends[ACCOUNT][REGION]
        az_ids = [f"use1-az{i}" for i in range(1, 7)]
        # Prefix lists of 6 entries each (pages of a few entries are crossed).
        pls = [ec2.create_managed_prefix_list(
            PrefixListName=f"lab-large-{tag}-{k}", AddressFamily="IPv4", MaxEntries=10,
            Entries=[{"Cidr": f"192.168.{16 * k + e}.0/24", "Description": f"office {k}.{e}"} for e in range(6)],
        )["PrefixList"]["PrefixListId"] for k in range(3)]

        # 96 more subnets: 100 in all, over the region's 6 AZ IDs.
        extra_subnets = [be.create_subnet(vpc_id, f"10.0.{20 + i}.0/24", availability_zone_id=az_ids[i % 6]).id
                         for i in range(96)]
        all_subnets = list(w["subnets"].values()) + extra_subnets

        def authorize(group_id, permissions):
            for p in permissions:
                proto, lo, hi, ranges, groups, prefix_lists = parse_sg_attributes_from_dict(p)
                be.authorize_security_group_ingress(group_id, proto, lo, hi, ranges, source_groups=groups,
                                                    prefix_list_ids=prefix_lists, vpc_id=vpc_id)

        # 200 security groups: the VPC's default, client/endpoint/other, and 196 more.
        groups = [be.create_security_group(f"large-{i:03d}", f"lab large {i}", vpc_id=vpc_id).id for i in range(196)]
        for i, g in enumerate(groups):
            authorize(g, [
                rule("tcp", 1000 + i, sg=groups[(i + 1) % len(groups)]),
                rule("tcp", 443, pl=pls[i % 3]),
                rule("tcp", 22, cidr=f"10.0.{20 + i % 96}.0/24"),
                rule("udp", 53, sg=w["client_sg"]),
            ])
        # The TiDB endpoint's group: more rules, none of them admitting the
        # client on 4000 (what admits it is the scenario's rule).
        authorize(w["endpoint_sg"], [
            rule("tcp", 4000, pl=pls[1]),
            rule("tcp", 443, sg=w["client_sg"]),
            rule("tcp", 4000, sg=groups[0]),
            rule("tcp", 4000, cidr="10.0.20.0/22"),
        ])

        # 20 custom network ACLs, 40 entries each (19 + 19 numbered, and the
        # two "*" entries): denies for foreign networks, then allow all.
        acls = []
        for k in range(20):
            acl_id = be.create_network_acl(vpc_id).id
            for egress, net in ((False, "203.0.113"), (True, "198.51.100")):
                for n in range(18):
                    be.create_network_acl_entry(acl_id, 10 * (n + 1), "6", "deny", egress, f"{net}.{8 * n}/29",
                                                None, None, 0, 65535, None)
                be.create_network_acl_entry(acl_id, 900, "-1", "allow", egress, "0.0.0.0/0",
                                            None, None, None, None, None)
            acls.append(acl_id)
        assocs = {a.subnet_id: a.id for n in be.network_acls.values() if n.vpc_id == vpc_id
                  for a in n.associations}
        for j, subnet_id in enumerate(all_subnets):
            be.replace_network_acl_association(assocs[subnet_id], acls[j % 20])

        # 50 interface endpoints of other services, 2 subnets each.
        for k in range(50):
            be.create_vpc_endpoint(vpc_id, f"com.amazonaws.{REGION}.lab-other-{k:02d}", "Interface", None, [],
                                   subnet_ids=[extra_subnets[(2 * k) % 96], extra_subnets[(2 * k + 1) % 96]],
                                   security_group_ids=[groups[k]], tags={"Name": f"other-{k:02d}"},
                                   private_dns_enabled=True)

        # 5 private hosted zones, none covering the TiDB host.
        for k in range(5):
            self.r53.create_hosted_zone(
                Name=f"zone{k}.corp.example", CallerReference=f"lab-{tag}-large-{k}",
                VPC={"VPCRegion": REGION, "VPCId": vpc_id}, HostedZoneConfig={"Comment": "lab", "PrivateZone": True})

        # What the doctor must see, counted by moto's own filters.
        vpc = {"vpc-id": [vpc_id]}
        w["large"] = {
            "security_groups": len(be.describe_security_groups(filters=vpc)),
            "subnets": len(be.describe_subnets(filters=vpc)),
            "network_acls": len(be.describe_network_acls(filters=vpc)),
            "network_acl_entries": sorted({len(be.get_network_acl(a).network_acl_entries) for a in acls}),
            "endpoints": len(be.describe_vpc_endpoints(None, filters=vpc)),
            "endpoint_interfaces": len(be.get_all_network_interfaces(
                None, {**vpc, "description": ["VPC Endpoint Interface vpce-*"]})),
            "hosted_zones": len(self.r53.list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=REGION)[
                "HostedZoneSummaries"]),
            "prefix_list_ids": pls,
            "prefix_list_entries": 6,
        }


STATES = ("pendingAcceptance", "pending", "rejected", "failed", "deleting", "deleted", "expired")
EP_SUBNETS = ("az1", "az2")
SCENARIOS = {
    "healthy": {},
    "dns-support-off": dict(dns_support=False),
    "dns-hostnames-off": dict(dns_hostnames=False),
    "no-endpoint": dict(endpoint=False),
    **{f"state-{s}": dict(state=s) for s in STATES},
    "private-dns-off": dict(private_dns=False),
    "dns-conflict": dict(conflict_endpoint=True),
    "endpoint-wrong-az": dict(endpoint_subnets=("az6",)),
    "client-other-az": dict(endpoint_subnets=("az2",)),
    "dhcp-custom": dict(dhcp_servers=["10.0.0.53"]),
    "hosted-zone-shadow": dict(hosted_zone="tidbcloud.com"),
    "hosted-zone-parent-private-dns-off": dict(hosted_zone="tidbcloud.com", private_dns=False),
    "hosted-zone-exact": dict(hosted_zone=HOST, private_dns=False),
    "hosted-zone-unrelated": dict(hosted_zone="example.internal"),
    "sg-3306-only": dict(endpoint_ingress=lambda w: [rule("tcp", 3306, sg=w["client_sg"])]),
    "sg-cidr-excludes-client": dict(endpoint_ingress=lambda w: [rule("tcp", 4000, cidr="10.0.2.0/24")]),
    "sg-other-group": dict(endpoint_ingress=lambda w: [rule("tcp", 4000, sg=w["other_sg"])]),
    "sg-udp-only": dict(endpoint_ingress=lambda w: [rule("udp", 4000, cidr="0.0.0.0/0")]),
    "client-egress-443": dict(client_egress=lambda w: [rule("tcp", 443, cidr="0.0.0.0/0")]),
    "sg-all-from-anywhere": dict(endpoint_ingress=lambda w: [rule("-1", cidr="0.0.0.0/0")]),
    "sg-range-from-client-subnet": dict(endpoint_ingress=lambda w: [rule("tcp", 3000, 5000, cidr="10.0.10.0/24")]),
    "sg-prefix-list": dict(prefix_list=["10.0.10.0/24"],
                           endpoint_ingress=lambda w: [rule("tcp", 4000, pl=w["prefix_list_id"])]),
    "nacl-endpoint-deny-4000": dict(nacl=nacl(EP_SUBNETS, acl(90, False, "deny", "6", (4000, 4000)),
                                              acl(100, False, "allow"), acl(100, True, "allow"))),
    "nacl-client-no-ephemeral": dict(nacl=nacl(("client",), acl(100, True, "allow"),
                                               acl(100, False, "allow", "6", (22, 22)))),
    "nacl-allow-before-deny": dict(nacl=nacl(EP_SUBNETS, acl(100, False, "allow"), acl(200, False, "deny"),
                                             acl(100, True, "allow"), acl(200, True, "deny"))),
    "two-endpoints-in-region": dict(second_vpc=True),
    "endpoint-deleted-beside-live": dict(deleted_endpoint=True),
    "endpoint-only-deleted": dict(endpoint=False, deleted_endpoint=True),
    "nacl-client-linux-ephemeral": dict(nacl=nacl(("client",), acl(100, True, "allow"),
                                                  acl(100, False, "allow", "6", (32768, 60999)))),
    # Issue 13: what AWS and TiDB Cloud know beyond the guide.
    "service-own-host": dict(beyond=dict(service_host=OWN_HOST)),
    "private-dns-unverified": dict(beyond=dict(verification="pendingVerification")),
    "exclusive-pending": dict(state="pendingAcceptance", beyond=dict(acceptance_required=True)),
    "resolver-rule-host": dict(beyond=dict(resolver_rules=[(HOST, "FORWARD")])),
    "resolver-rule-parent": dict(beyond=dict(resolver_rules=[("tidbcloud.com", "FORWARD")])),
    "client-ipv6-only": dict(beyond=dict(ipv6_only_client=True)),
    # The healthy world in a VPC of real size (Lab.enlarge), and the same with
    # the one rule that admits the client on 4000 turned to 3306.
    "large": dict(large=True),
    "large-sg-3306": dict(large=True, endpoint_ingress=lambda w: [rule("tcp", 3306, sg=w["client_sg"])]),
}


# --- IMDSv2 --------------------------------------------------------------------
def imds_data(lab, w):
    inst = lab.ec2.describe_instances(InstanceIds=[w["instance_id"]])["Reservations"][0]["Instances"][0]
    az = inst["Placement"]["AvailabilityZone"]
    az_id = next(z["ZoneId"] for z in lab.ec2.describe_availability_zones(ZoneNames=[az])["AvailabilityZones"])
    nic = inst["NetworkInterfaces"][0]
    mac = nic["MacAddress"]
    subnet_cidr = lab.ec2.describe_subnets(SubnetIds=[inst["SubnetId"]])["Subnets"][0].get("CidrBlock", "")
    sgs = [g["GroupId"] for g in inst["SecurityGroups"]]
    doc = {
        "accountId": ACCOUNT, "architecture": "x86_64", "availabilityZone": az, "imageId": inst["ImageId"],
        "instanceId": inst["InstanceId"], "instanceType": inst["InstanceType"],
        "pendingTime": inst["LaunchTime"].strftime("%Y-%m-%dT%H:%M:%SZ"), "privateIp": inst["PrivateIpAddress"],
        "region": REGION, "version": "2017-09-30",
    }
    md = "/latest/meta-data/"
    macp = f"{md}network/interfaces/macs/{mac}/"
    return {
        md + "instance-id": inst["InstanceId"],
        md + "placement/region": REGION,
        md + "placement/availability-zone": az,
        md + "placement/availability-zone-id": az_id,
        md + "local-ipv4": inst["PrivateIpAddress"],
        md + "mac": mac,
        macp + "vpc-id": inst["VpcId"],
        macp + "subnet-id": inst["SubnetId"],
        macp + "security-group-ids": "\n".join(sgs),
        macp + "vpc-ipv4-cidr-block": w["vpc_cidr"],
        macp + "subnet-ipv4-cidr-block": subnet_cidr,
        "/latest/dynamic/instance-identity/document": json.dumps(doc, indent=2),
    }


def start_imds(paths):
    token = secrets.token_urlsafe(32)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "EC2ws"
        sys_version = ""
        # The headers and the body go out in two writes; on a kept-alive
        # connection Nagle's algorithm held the body until the client's
        # delayed ACK: ~40 ms a request, where EC2's IMDS answers in ~1 ms.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            log.debug("imds: " + fmt, *args)

        def reply(self, code, body="", ctype="text/plain", headers=()):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def drain(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)

        def do_PUT(self):
            self.drain()
            if self.path.split("?")[0] != "/latest/api/token":
                return self.reply(404, "Not Found")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.reply(400, "Bad Request")
            self.reply(200, token, headers=[("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

        def do_GET(self):
            self.drain()
            if self.headers.get("X-aws-ec2-metadata-token") != token:
                return self.reply(401, "Unauthorized")
            path = self.path.split("?")[0]
            if path in paths:
                ctype = "application/json" if path.endswith("/document") else "text/plain"
                return self.reply(200, paths[path], ctype)
            self.reply(404, "Not Found")

        do_HEAD = do_GET

        def do_POST(self):
            self.drain()
            self.reply(405, "Method Not Allowed")

        do_DELETE = do_PATCH = do_POST

    class Server(ThreadingHTTPServer):
        # socketserver's listen backlog is 5: a doctor opens 5 connections at
        # once, and several doctors run at once; a full backlog drops the
        # SYN, retried after 1 s, past the doctor's IMDS timeouts.
        request_queue_size = 128
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, name="imds", daemon=True).start()
    return srv


# --- one moto for many worlds and many clients --------------------------------------
# moto's backends are plain dicts and lists, not made for concurrent writers:
# a describe iterating a dict while another thread adds to it fails with a
# 500. Every HTTP request and every world build holds MOTO_LOCK, so requests
# (several doctors at once, fix commands, builds) see a consistent moto. The
# GIL serializes moto's work anyway; injected latency waits outside the lock,
# so concurrent requests still overlap their delays.
MOTO_LOCK = threading.RLock()

# Injected latency (benchmarks): every AWS API request waits
# LATENCY["seconds"] before moto answers, and is counted; GET /lab/requests
# returns the count (not delayed), so a benchmark can tell calls from round
# trips, and GET /lab/latency?ms=N changes the delay. GET /lab/rounds?since=N
# returns how many requests from the N-th on waited for one another in a row:
# the longest chain of requests each sent after the one before it was
# answered, by the lab's clock (round trips waited in a row, without the
# client's own start-up and CPU time, nor moto's: it answers one request at a
# time, which at 0 ms hides a second round behind the first's work).
LATENCY = {"seconds": 0.0, "count": 0}
_latency_lock = threading.Lock()
# (arrived, answered) of the last requests, by request number.
REQUEST_LOG = {}
REQUEST_LOG_MAX = 20000


def rounds_since(first):
    """The longest chain of requests (numbered first or later) in which
    each was sent after the one before it had been answered."""
    with _latency_lock:
        times = sorted(t for n, t in REQUEST_LOG.items() if n >= first and t[1] is not None)
    depth = []
    for arrived, _ in times:
        depth.append(1 + max((d for (_, answered), d in zip(times, depth) if answered <= arrived), default=0))
    return max(depth, default=0)


def install_dispatch():
    from moto.server import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def dispatch(self, environ, start_response):
        if environ.get("PATH_INFO") == "/lab/latency":
            # /lab/latency?ms=N changes the delay at run time (benchmarks compare).
            query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
            LATENCY["seconds"] = float(query.get("ms", "0")) / 1000.0
            environ["PATH_INFO"] = "/lab/requests"
        path = environ.get("PATH_INFO")
        if path in ("/lab/requests", "/lab/rounds"):
            if path == "/lab/rounds":
                query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
                answer = {"rounds": rounds_since(int(query.get("since", "0")))}
            else:
                answer = {"requests": LATENCY["count"]}
            body = json.dumps(answer).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with _latency_lock:
            LATENCY["count"] += 1
            number = LATENCY["count"]
            REQUEST_LOG[number] = (time.monotonic(), None)
            REQUEST_LOG.pop(number - REQUEST_LOG_MAX, None)
        try:
            if LATENCY["seconds"] > 0:
                time.sleep(LATENCY["seconds"])
            with MOTO_LOCK:
                return list(original(self, environ, start_response))
        finally:
            with _latency_lock:
                if number in REQUEST_LOG:
                    REQUEST_LOG[number] = (REQUEST_LOG[number][0], time.monotonic())

    DomainDispatcherApplication.__call__ = dispatch


def warm_up(endpoint_url):
    """One call per service the doctor uses, over HTTP: moto builds each
    service's app and backend lazily (the first EC2 call takes ~1 s)."""
    import urllib.request

    def call(service, path="/", data=None, headers=()):
        auth = (f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")
        req = urllib.request.Request(endpoint_url + path, data=data, headers={"Authorization": auth, **dict(headers)})
        try:
            urllib.request.urlopen(req, timeout=60).read()
        except Exception as e:  # a warm-up that fails costs time later, nothing else
            log.info("warm-up of %s failed: %s", service, e)

    form = [("Content-Type", "application/x-www-form-urlencoded")]
    call("sts", data=b"Action=GetCallerIdentity&Version=2011-06-15", headers=form)
    call("ec2", data=b"Action=DescribeAvailabilityZones&Version=2016-11-15", headers=form)
    call("route53", path=f"/2013-04-01/hostedzonesbyvpc?vpcid=vpc-0a1b2c3d&vpcregion={REGION}")
    call("route53resolver", data=b"{}", headers=[("Content-Type", "application/x-amz-json-1.1"),
                                                 ("X-Amz-Target", "Route53Resolver.ListResolverRules")])


class Worlds:
    """Worlds built on demand, once each, with an IMDSv2 server per world."""

    def __init__(self, endpoint_url, imds):
        self.endpoint_url, self.imds = endpoint_url, imds
        self.lab = Lab()
        self.built = {}
        self.imds_srvs = []

    def get(self, name):
        # "NAME#COPY" is a world of its own, built like NAME: for a test that
        # changes its world (runs fix commands) without touching NAME's.
        scenario = name.split("#", 1)[0]
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; see --list")
        if name not in self.built:
            t = time.monotonic()
            with MOTO_LOCK:
                # The tag names the provider's NLB and the hosted zone's caller
                # reference, which must be unique in the account.
                w = self.lab.build(tag=str(len(self.built)), **SCENARIOS[scenario])
                paths = imds_data(self.lab, w) if self.imds else None
            imds_url = None
            if paths is not None:
                self.imds_srvs.append(start_imds(paths))
                imds_url = f"http://127.0.0.1:{self.imds_srvs[-1].server_address[1]}"
            self.built[name] = {"name": name, "scenario": scenario, "endpoint_url": self.endpoint_url,
                                "imds_url": imds_url, "account": ACCOUNT, **w}
            log.info("built %s in %.2fs", name, time.monotonic() - t)
        return self.built[name]


# --- main ------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", action="store_true",
                    help="build worlds on demand: read names on stdin, answer one JSON line each (with IMDS)")
    ap.add_argument("--scenario", metavar="NAME", action="append",
                    help="scenario to build; repeat it (or use --all) for several worlds in one moto")
    ap.add_argument("--all", action="store_true", help="build every scenario in one moto")
    ap.add_argument("--imds", action="store_true", help="also serve IMDSv2 for the client instance(s)")
    ap.add_argument("--list", action="store_true", help="print the scenario names and exit")
    ap.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                    help="once the world is built, delay every AWS API answer by MS (for benchmarks)")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    args = ap.parse_args(argv)

    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    names = list(SCENARIOS) if args.all else list(dict.fromkeys(args.scenario or []))
    bad = [n for n in names if n not in SCENARIOS]
    if bad or (not names and not args.serve):
        what = f"unknown scenario {bad[0]!r}" if bad else "--scenario NAME (or --serve) is required"
        print(f"lab.py: {what}; see --list", file=sys.stderr)
        return 2

    # stdout carries only JSON lines: move everything else (prints by
    # libraries, even C-level writes to fd 1) to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="lab: %(message)s")
    for name in ("werkzeug", "botocore", "boto3", "urllib3", "moto"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose and name == "werkzeug" else logging.ERROR)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    apply_speed_patches()
    apply_moto_patches()
    apply_beyond_patches()
    install_dispatch()
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    mock_aws().start()
    moto_srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_srv.start()
    endpoint_url = f"http://127.0.0.1:{moto_srv.get_host_and_port()[1]}"
    current = "warm-up"
    try:
        log.info("moto on %s", endpoint_url)
        warm_up(endpoint_url)
        worlds = Worlds(endpoint_url, imds=args.imds or args.serve)
        for current in names:
            worlds.get(current)
        LATENCY["seconds"] = args.latency_ms / 1000.0
        LATENCY["count"] = 0
        REQUEST_LOG.clear()
        if args.serve:
            reply({"endpoint_url": endpoint_url, "region": REGION, "account": ACCOUNT})
        elif len(names) == 1:
            reply(worlds.built[names[0]])
        else:
            reply({"endpoint_url": endpoint_url, "region": REGION, "account": ACCOUNT, "scenarios": worlds.built})
        log.info("ready in %.2fs%s", time.monotonic() - T0, (": " + ", ".join(names)) if names else "")

        def serve_stdin():
            # --serve: one world name per line, one JSON line back; otherwise
            # stdin only tells when to stop.
            try:
                for line in sys.stdin:
                    name = line.strip()
                    if not args.serve or not name:
                        continue
                    try:
                        reply(worlds.get(name))
                    except Exception as e:
                        log.debug("world %s failed", name, exc_info=True)
                        log.error("world %s failed: %s: %s", name, type(e).__name__, e)
                        reply({"name": name, "error": f"world {name} failed: {type(e).__name__}: {e}"})
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=serve_stdin, name="stdin", daemon=True).start()
        while not stop.wait(0.5):
            pass
        log.info("stopping")
        return 0
    except Exception as e:  # one clear line; traceback with -v
        log.debug("scenario build failed", exc_info=True)
        log.error("scenario %s failed: %s: %s", current, type(e).__name__, e)
        return 1


if __name__ == "__main__":
    rc = main()
    # Exit at once: the servers hold no state worth saving, and the
    # interpreter's teardown of moto's many modules (and the servers' 0.5 s
    # shutdown polls) would keep a finished test run waiting.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)
