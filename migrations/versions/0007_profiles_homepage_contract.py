"""rename profiles.website to homepage, 3 of 3 (contract, once no running code uses website): drop it

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from pglab.migrations import backfill

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the same trigger as 0005's: a revision is a frozen copy, it never imports another revision
SYNC = """
CREATE FUNCTION profiles_sync_homepage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.homepage := coalesce(NEW.homepage, NEW.website);
    NEW.website  := coalesce(NEW.website, NEW.homepage);
  ELSIF NEW.website IS DISTINCT FROM OLD.website AND NEW.homepage IS NOT DISTINCT FROM OLD.homepage THEN
    NEW.homepage := NEW.website;   -- code that still writes website
  ELSIF NEW.homepage IS DISTINCT FROM OLD.homepage AND NEW.website IS NOT DISTINCT FROM OLD.website THEN
    NEW.website := NEW.homepage;   -- code that writes homepage
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER profiles_sync_homepage BEFORE INSERT OR UPDATE ON profiles
  FOR EACH ROW EXECUTE FUNCTION profiles_sync_homepage()
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER profiles_sync_homepage ON profiles")
    op.execute("-- nothing calls it once the trigger is gone\n"
               "-- squawk-ignore ban-drop-function\n"
               "DROP FUNCTION profiles_sync_homepage()")
    op.execute("-- the contract step: no deployed code reads or writes website any more\n"
               "-- squawk-ignore ban-drop-column\n"
               "ALTER TABLE profiles DROP COLUMN website")


def downgrade() -> None:
    op.execute("-- the same type as homepage\n"
               "-- squawk-ignore prefer-text-field\n"
               "ALTER TABLE profiles ADD COLUMN website varchar(500)")
    op.execute(SYNC)
    backfill("profiles", "website = homepage", "website IS DISTINCT FROM homepage")
