"""`python -m shop_analytics.cli`: the `shop-analytics` command."""

import sys

from shop_analytics.cli import main

sys.exit(main())
