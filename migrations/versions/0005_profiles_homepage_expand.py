"""rename profiles.website to homepage, 1 of 3 (expand): add homepage, a trigger keeps both in step

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

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
    op.execute("-- the same type as website, so that both columns hold the same values\n"
               "-- squawk-ignore prefer-text-field\n"
               "ALTER TABLE profiles ADD COLUMN homepage varchar(500)")
    op.execute(SYNC)


def downgrade() -> None:
    op.execute("DROP TRIGGER profiles_sync_homepage ON profiles")
    op.execute("-- the trigger's function, created by this revision's upgrade\n"
               "-- squawk-ignore ban-drop-function\n"
               "DROP FUNCTION profiles_sync_homepage()")
    op.execute("-- the column this revision's upgrade added: nothing reads it before the switch\n"
               "-- squawk-ignore ban-drop-column\n"
               "ALTER TABLE profiles DROP COLUMN homepage")
