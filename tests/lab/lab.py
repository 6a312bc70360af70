#!/usr/bin/env python3
"""tidbpe test lab: moto (server mode, in-process) + one named PrivateLink scenario.

Usage:
    .venv/bin/python tests/lab/lab.py --scenario NAME [--imds]
    .venv/bin/python tests/lab/lab.py --scenario A --scenario B ... | --all [--imds]
    .venv/bin/python tests/lab/lab.py --list

Starts moto on a free 127.0.0.1 port (with the patches below), builds the
scenario through boto3 (real EC2 / ELBv2 / Route 53 API calls), optionally
serves IMDSv2 for the scenario's client instance on another free loopback
port, prints ONE line of JSON on stdout and serves until stdin reaches EOF or
SIGTERM/SIGINT arrives. Logs go to stderr. See README.md.
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
IMAGE_ID = "ami-0a1b2c3d4e5f60718"  # moto does not validate AMIs by default
log = logging.getLogger("lab")


# --- moto patches (applied before the server starts) ------------------------
def apply_moto_patches():
    from moto.ec2.models import elastic_network_interfaces as eni_mod
    from moto.ec2.models import network_acls as nacl_mod
    from moto.ec2.models import vpcs as vpcs_mod

    # (i) An endpoint's state follows its tag "lab:state" (moto: always "available").
    def get_state(self):
        for tag in self.get_tags():
            if tag.get("key") == "lab:state":
                return tag.get("value")
        return self.__dict__.get("_lab_state", "available")

    def set_state(self, value):
        self.__dict__["_lab_state"] = value

    vpcs_mod.VPCEndPoint.state = property(get_state, set_state)

    # (ii) Endpoint ENIs get their IP from their subnet. create_vpc_endpoint calls
    # random_private_ip() with no subnet (vpcs.py); when that returns None the
    # NetworkInterface draws random_private_ip(subnet.cidr_block) itself
    # (elastic_network_interfaces.py). We also keep that draw off the 4 + 1
    # addresses AWS reserves and off addresses already handed out, and make it
    # deterministic per subnet CIDR.
    orig_vpcs_ip = vpcs_mod.random_private_ip

    def vpcs_random_private_ip(cidr=None, ipv6=False):
        if cidr is None and not ipv6:
            return None
        return orig_vpcs_ip(cidr, ipv6)

    vpcs_mod.random_private_ip = vpcs_random_private_ip

    orig_eni_ip = eni_mod.random_private_ip
    issued = set()
    rngs = {}

    def eni_random_private_ip(cidr=None, ipv6=False):
        if not cidr or ipv6:
            return orig_eni_ip(cidr, ipv6)
        net = ipaddress.IPv4Network(cidr, strict=False)
        first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1
        rng = rngs.setdefault(str(net), random.Random(str(net)))
        for _ in range(1000):
            ip = str(ipaddress.IPv4Address(rng.randint(first, last)))
            if ip not in issued:
                issued.add(ip)
                return ip
        return orig_eni_ip(cidr, ipv6)

    eni_mod.random_private_ip = eni_random_private_ip

    # (iii) Endpoint ENIs look like AWS's: they carry the endpoint's security
    # groups (moto gives them the VPC's default group), interface type
    # "vpc_endpoint", requester-managed, and the usual description.
    orig_create = vpcs_mod.VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self, *args, **kwargs):
        ep = orig_create(self, *args, **kwargs)
        if (ep.vpc_endpoint_type or "").lower() == "interface":
            groups = [g for g in (self.get_security_group_from_id(i) for i in ep.security_group_ids) if g]
            for eni_id in ep.network_interface_ids:
                eni = self.enis.get(eni_id)
                if eni is None:
                    continue
                if groups:
                    eni._group_set = list(groups)
                eni.interface_type = "vpc_endpoint"
                eni.requester_managed = True
                eni.description = f"VPC Endpoint Interface {ep.id}"
        return ep

    vpcs_mod.VPCBackend.create_vpc_endpoint = create_vpc_endpoint

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
    def __init__(self, endpoint_url):
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        sess = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=REGION)
        mk = lambda svc: sess.client(svc, endpoint_url=endpoint_url, config=cfg)  # noqa: E731
        self.ec2, self.elbv2, self.r53, self.sts = mk("ec2"), mk("elbv2"), mk("route53"), mk("sts")

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

    # -- the world
    def build(self, *, tag="0", dns_support=True, dns_hostnames=True, endpoint=True, endpoint_subnets=("az1", "az2"),
              private_dns=True, state=None, conflict_endpoint=False, dhcp_servers=None, hosted_zone=None,
              prefix_list=None, endpoint_ingress=None, client_egress=None, nacl=None, second_vpc=False):
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
        # AWS gives a new VPC the region's default DHCP option set; moto says "default" and has no set.
        dhcp = [{"Key": "domain-name-servers", "Values": list(dhcp_servers)}] if dhcp_servers else [
            {"Key": "domain-name", "Values": ["ec2.internal"]},
            {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]}]
        w["dhcp_options_id"] = ec2.create_dhcp_options(DhcpConfigurations=dhcp)["DhcpOptions"]["DhcpOptionsId"]
        ec2.associate_dhcp_options(DhcpOptionsId=w["dhcp_options_id"], VpcId=vpc_id)
        for key in ("client_sg", "endpoint_sg", "other_sg"):
            w[key] = self.sg(vpc_id, key.replace("_", "-"))
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

        eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
        w["endpoint_ids"] = sorted((e["VpcEndpointId"] for e in eps), key=lambda i: i != w["endpoint_id"])
        w["endpoint_ips"] = []
        main = [e for e in eps if e["VpcEndpointId"] == w["endpoint_id"]]
        if main and main[0]["NetworkInterfaceIds"]:
            enis = ec2.describe_network_interfaces(NetworkInterfaceIds=main[0]["NetworkInterfaceIds"])
            by_id = {n["NetworkInterfaceId"]: n["PrivateIpAddress"] for n in enis["NetworkInterfaces"]}
            w["endpoint_ips"] = [by_id[i] for i in main[0]["NetworkInterfaceIds"]]
        return w

    def warm_up(self, w):
        """Touch every API the doctor calls, so its first calls are not the slow lazy ones."""
        self.sts.get_caller_identity()
        self.ec2.describe_vpc_endpoint_services(ServiceNames=[w["service_name"]])
        self.ec2.describe_availability_zones()
        self.ec2.describe_vpc_attribute(VpcId=w["vpc_id"], Attribute="enableDnsSupport")
        self.ec2.describe_dhcp_options()
        self.ec2.describe_security_groups(GroupIds=[w["endpoint_sg"]])
        self.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [w["endpoint_sg"]]}])
        self.ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [w["vpc_id"]]}])
        self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [w["vpc_id"]]}])
        self.ec2.describe_instances(InstanceIds=[w["instance_id"]])
        self.ec2.describe_managed_prefix_lists()
        self.r53.list_hosted_zones_by_vpc(VPCId=w["vpc_id"], VPCRegion=REGION)


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
}


# --- IMDSv2 --------------------------------------------------------------------
def imds_data(lab, w):
    inst = lab.ec2.describe_instances(InstanceIds=[w["instance_id"]])["Reservations"][0]["Instances"][0]
    az = inst["Placement"]["AvailabilityZone"]
    az_id = next(z["ZoneId"] for z in lab.ec2.describe_availability_zones(ZoneNames=[az])["AvailabilityZones"])
    nic = inst["NetworkInterfaces"][0]
    mac = nic["MacAddress"]
    subnet_cidr = lab.ec2.describe_subnets(SubnetIds=[inst["SubnetId"]])["Subnets"][0]["CidrBlock"]
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

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, name="imds", daemon=True).start()
    return srv


# --- injected latency (benchmarks) ---------------------------------------------
# After the world is built, every AWS API request waits LATENCY["seconds"]
# before moto answers, and is counted; GET /lab/requests returns the count
# (not delayed), so a benchmark can tell calls from round trips, and
# GET /lab/latency?ms=N changes the delay.
LATENCY = {"seconds": 0.0, "count": 0}
_latency_lock = threading.Lock()


def install_latency():
    from moto.server import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def delayed(self, environ, start_response):
        if environ.get("PATH_INFO") == "/lab/latency":
            # /lab/latency?ms=N changes the delay at run time (benchmarks compare).
            query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
            LATENCY["seconds"] = float(query.get("ms", "0")) / 1000.0
            environ["PATH_INFO"] = "/lab/requests"
        if environ.get("PATH_INFO") == "/lab/requests":
            body = json.dumps({"requests": LATENCY["count"]}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with _latency_lock:
            LATENCY["count"] += 1
        if LATENCY["seconds"] > 0:
            time.sleep(LATENCY["seconds"])
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = delayed


# --- main ------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    if bad or not names:
        what = f"unknown scenario {bad[0]!r}" if bad else "--scenario NAME is required"
        print(f"lab.py: {what}; see --list", file=sys.stderr)
        return 2

    # stdout carries exactly one JSON line: move everything else (prints by
    # libraries, even C-level writes to fd 1) to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="lab: %(message)s")
    for name in ("werkzeug", "botocore", "boto3", "urllib3", "moto"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose and name == "werkzeug" else logging.ERROR)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    apply_moto_patches()
    install_latency()
    from moto.server import ThreadedMotoServer

    moto_srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_srv.start()
    endpoint_url = f"http://127.0.0.1:{moto_srv.get_host_and_port()[1]}"
    imds_srvs = []
    current = names[0]
    try:
        log.info("moto on %s; building %s", endpoint_url, ", ".join(names))
        lab = Lab(endpoint_url)
        worlds = {}
        for i, current in enumerate(names):
            w = lab.build(tag=str(i), **SCENARIOS[current])
            imds_url = None
            if args.imds:
                imds_srvs.append(start_imds(imds_data(lab, w)))
                imds_url = f"http://127.0.0.1:{imds_srvs[-1].server_address[1]}"
            worlds[current] = {"scenario": current, "endpoint_url": endpoint_url, "imds_url": imds_url,
                               "account": ACCOUNT, **w}
        lab.warm_up(w)
        LATENCY["seconds"] = args.latency_ms / 1000.0
        LATENCY["count"] = 0
        if len(names) == 1:
            result = worlds[names[0]]
        else:
            result = {"endpoint_url": endpoint_url, "region": REGION, "account": ACCOUNT, "scenarios": worlds}
        out.write(json.dumps(result) + "\n")
        out.flush()
        log.info("ready in %.2fs: %s", time.monotonic() - T0, ", ".join(names))

        def wait_eof():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=wait_eof, name="stdin", daemon=True).start()
        while not stop.wait(0.5):
            pass
        log.info("stopping")
        return 0
    except Exception as e:  # one clear line; traceback with -v
        log.debug("scenario build failed", exc_info=True)
        log.error("scenario %s failed: %s: %s", current, type(e).__name__, e)
        return 1
    finally:
        # The servers poll for shutdown every 0.5 s: stop them side by side.
        stoppers = [threading.Thread(target=moto_srv.stop)] + [threading.Thread(target=s.shutdown) for s in imds_srvs]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for srv in imds_srvs + ([moto_srv._server] if moto_srv._server else []):
            srv.server_close()


if __name__ == "__main__":
    rc = main()
    # Skip the interpreter's slow teardown of moto's many modules (~1 s):
    # the servers are already shut down, only the streams need flushing.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)
