"""方式二 在线报送: the department portal (``sgs serve portal``; docs/portal.md)."""
