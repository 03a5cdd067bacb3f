"""Lab stand-ins for the firewall scenario. Not a Kubernetes component.

  python3 netlab.py listen PORT ...          accept TCP connections on each port (IPv4 and IPv6)
                                              and answer each with one line, "nodeguard-lab PORT"
  python3 netlab.py probe HOST:PORT ...      try every connection at once and print JSON
                                              {"HOST:PORT": answer}

A probe's answer is the first line the far end sends ("nodeguard-lab 6443", "SSH-2.0-..."), or
"refused" / "timeout". Run it inside a network namespace with `ip netns exec` to probe as a pod.
"""

import json
import socket
import sys
import threading

TIMEOUT = 4.0


def serve(port: int) -> None:
    server = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
    while True:
        conn, _addr = server.accept()
        with conn:
            conn.sendall(f"nodeguard-lab {port}\n".encode())


def probe(target: str, answers: dict) -> None:
    host, _sep, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as conn:
            conn.settimeout(TIMEOUT)
            answers[target] = conn.recv(200).decode(errors="replace").splitlines()[0]
    except ConnectionRefusedError:
        answers[target] = "refused"
    except (TimeoutError, socket.timeout):
        answers[target] = "timeout"
    except (OSError, IndexError) as error:
        answers[target] = f"error: {error}"


def run_all(target, items) -> list:
    threads = [threading.Thread(target=target, args=item) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return threads


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "listen":
        run_all(serve, [(int(port),) for port in args])
    elif command == "probe":
        answers: dict = {}
        run_all(probe, [(target, answers) for target in args])
        print(json.dumps(answers, sort_keys=True))
    else:
        raise SystemExit(f"unknown command {command!r}: listen or probe")


if __name__ == "__main__":
    main()
