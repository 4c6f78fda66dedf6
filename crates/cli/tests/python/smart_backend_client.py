"""A departmental system as SMART Backend Services describe it, written with Authlib (a client
library we did not write): it finds the token endpoint through the server's discovery
document, signs a client assertion (private_key_jwt) with its own key, gets a bearer token with
SMART v2 system scopes, and reads the FHIR API with it. Then it shows that the same assertion
replayed is refused.

Usage: smart_backend_client.py keygen ALG KEY_PEM   (writes a new private key, prints its
                                                   public JWK Set for the administrator)
       smart_backend_client.py BASE CLIENT_ID KEY_PEM ALG
Prints one line per step; exits non-zero on the first failure.
"""

import sys
import time
import uuid

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import import_key


def keygen(alg, key_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    import json

    if alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(key_path, "wb") as f:
        f.write(pem)
    public = import_key(pem, "EC" if alg == "ES384" else "RSA").as_dict(private=False)
    public["kid"] = f"{alg.lower()}-1"
    public["alg"] = alg
    print(json.dumps({"keys": [public]}))


def main():
    if sys.argv[1] == "keygen":
        keygen(sys.argv[2], sys.argv[3])
        return
    base, client_id, key_path, alg = sys.argv[1:5]
    discovery = requests.get(f"{base}/.well-known/smart-configuration", timeout=10)
    discovery.raise_for_status()
    config = discovery.json()
    token_endpoint = config["token_endpoint"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"], config
    assert alg in config["token_endpoint_auth_signing_alg_values_supported"], config
    assert "client-confidential-asymmetric" in config["capabilities"], config
    print(f"discovered {token_endpoint}")

    with open(key_path, "rb") as f:
        private_key = import_key(f.read(), "EC" if alg == "ES384" else "RSA")
    session = OAuth2Session(
        client_id,
        private_key,
        # SMART asks that an assertion expire within five minutes (Authlib's default is an
        # hour, which the server refuses).
        token_endpoint_auth_method=PrivateKeyJWT(
            token_endpoint, alg=alg, claims={"exp": int(time.time()) + 240}
        ),
        scope="system/Patient.rs system/Observation.rs",
    )
    token = session.fetch_token(token_endpoint, grant_type="client_credentials")
    assert token["token_type"] == "Bearer", token
    assert token["scope"] == "system/Patient.rs system/Observation.rs", token
    print(f"token {alg} expires_in {token['expires_in']}")

    reply = session.get(f"{base}/fhir/Patient?_count=1", timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["resourceType"] == "Bundle", reply.text
    print("read Bundle")

    # One assertion, sent twice: the second is refused (its jti was claimed).
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "exp": now + 240,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode({"alg": alg, "typ": "JWT"}, claims, private_key, algorithms=[alg])
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": "system/*.rs",
    }
    first = requests.post(token_endpoint, data=form, timeout=10)
    assert first.status_code == 200, first.text
    again = requests.post(token_endpoint, data=form, timeout=10)
    assert again.status_code == 401, again.text
    assert again.json()["error"] == "invalid_client", again.text
    print("replay refused")


if __name__ == "__main__":
    main()
