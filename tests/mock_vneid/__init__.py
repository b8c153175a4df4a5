"""Tests of mock VNeID, the stand-alone imitation of the VNeID OpenID Provider."""
