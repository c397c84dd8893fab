from replab.cli import main

raise SystemExit(main())
