import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def test_smoke(open_socket, alice, bob, carol):
    a = await open_socket(alice, "/ws/chat/")
    b = await open_socket(bob, "/ws/chat/")
    print(a.connected)
    await a.send({"type": "message", "to": "bob", "content": "hi", "client_id": "c1", "ref": 1})
    ack = await a.expect("ack")
    print("ack", ack)
    print("bob", await b.drain(0.3))
    conv = ack["event"]["conversation"]
    await a.send({"type": "create_group", "title": "Trip", "members": ["bob", "carol"], "client_id": "g1", "ref": "g"})
    ack = await a.expect("ack")
    print("group ack", ack)
    gid = ack["conversation"]["id"]
    await a.send({"type": "message", "conversation": gid, "content": "hello group", "client_id": "c2"})
    print("a", await a.drain(0.3))
    print("bob", await b.drain(0.3))
    await b.send({"type": "read", "conversation": gid, "up_to": 2})
    print("a after read", await a.drain(0.3))
    await b.send({"type": "sync", "conversation": gid, "after": 0, "ref": 5})
    print("b sync", await b.drain(0.3))
    await a.send({"type": "conversations", "ref": 9})
    print("a convs", await a.drain(0.3))
    c = await open_socket(carol, "/ws/chat/")
    await c.send({"type": "resume", "cursors": {str(gid): 0}, "ref": 1})
    print("c resume", await c.drain(0.3))
    await a.send({"type": "remove_member", "conversation": gid, "user": "carol", "client_id": "r1"})
    print("c after removal", await c.drain(0.3))
    await a.send({"type": "message", "conversation": gid, "content": "after", "client_id": "c3"})
    print("c after msg", await c.drain(0.3))
    d = await open_socket(bob, "/ws/chat/alice/")
    print("direct", d.connected)
    await d.send({"type": "sync", "after": 0})
    print("direct sync", await d.drain(0.3))
